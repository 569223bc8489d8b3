-- Per job: the latest firing completed, and the instance holding the current run's lease.
CREATE TABLE IF NOT EXISTS jobs (
  job VARCHAR(64) NOT NULL PRIMARY KEY,
  completedFiring DATETIME(3) NULL,
  owner VARCHAR(255) NULL,
  leaseUntil DATETIME(3) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
