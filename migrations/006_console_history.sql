-- The operator's console: the history of job runs (shared by every instance, bounded by
-- collect-garbage) and the clients counted per local day (written each night by
-- collect-garbage from the day's activity, kept after that activity is deleted; counts only).
CREATE TABLE IF NOT EXISTS job_runs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  job VARCHAR(64) NOT NULL,
  firing DATETIME(3) NOT NULL,
  instance VARCHAR(255) NOT NULL,
  started DATETIME(3) NOT NULL,
  durationMs BIGINT UNSIGNED NOT NULL,
  outcome VARCHAR(16) NOT NULL,
  counts TEXT NOT NULL,
  failed MEDIUMTEXT NOT NULL,
  error TEXT NULL,
  INDEX job_runs_by_job (job, started, id),
  INDEX job_runs_by_start (started)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS client_days (
  date DATE NOT NULL PRIMARY KEY,
  registrations BIGINT UNSIGNED NOT NULL,
  active BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- kind: 'country' or 'version'; value: the country code or extension version, '' when unknown.
CREATE TABLE IF NOT EXISTS client_day_counts (
  date DATE NOT NULL,
  kind VARCHAR(8) NOT NULL,
  value VARCHAR(50) NOT NULL,
  clients BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (date, kind, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
