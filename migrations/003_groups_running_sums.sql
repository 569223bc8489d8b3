-- The new sketch model: per-group public keys, counts and running sum, per-day raw sums, and
-- sketches that no longer hold anyone's vector. Legacy sketches are folded into their groups'
-- sums (by the `fold_legacy_sketches` step, in Rust: the sums are big integers modulo ℓ), then
-- their per-person columns are dropped.
CREATE TABLE IF NOT EXISTS sketch_groups (
  campaignName VARCHAR(255) NOT NULL,
  day BIGINT NOT NULL,
  groupId INT UNSIGNED NOT NULL,
  publicKeys MEDIUMTEXT NOT NULL,
  queriesCount INT UNSIGNED NOT NULL,
  submittedCount INT UNSIGNED NOT NULL DEFAULT 0,
  encryptedCount INT UNSIGNED NOT NULL DEFAULT 0,
  encryptedSum LONGTEXT NOT NULL,
  PRIMARY KEY (campaignName, day, groupId)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS day_raw_sums (
  campaignName VARCHAR(255) NOT NULL,
  day BIGINT NOT NULL,
  rawValues LONGTEXT NOT NULL,
  PRIMARY KEY (campaignName, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

ALTER TABLE campaigns
  ADD COLUMN collectEncrypted TINYINT(1) NOT NULL DEFAULT 1,
  ADD COLUMN collectRaw TINYINT(1) NOT NULL DEFAULT 0;
-- The old server collected raw counts: keep doing so for the campaigns it collected them for.
UPDATE campaigns SET collectRaw = 1
  WHERE name IN (SELECT campaignName FROM aggregations WHERE rawValues <> '')
     OR name IN (SELECT campaignName FROM sketches WHERE rawValues <> '' AND submitted <> 0);

ALTER TABLE sketches CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ROW_FORMAT=DYNAMIC;
DELETE FROM sketches
  WHERE clientName IS NULL OR campaignName IS NULL OR day IS NULL OR `group` IS NULL;
-- @step fold_legacy_sketches
ALTER TABLE sketches
  DROP COLUMN encryptedValues,
  DROP COLUMN rawValues,
  DROP COLUMN publicKey;
ALTER TABLE sketches
  MODIFY unused_id BIGINT NOT NULL AUTO_INCREMENT,
  MODIFY createTime DATETIME(3) NULL;
UPDATE sketches SET createTime = '1970-01-01 00:00:00' WHERE createTime IS NULL;
UPDATE sketches SET queriesCount = 0 WHERE queriesCount IS NULL;
UPDATE sketches SET submitted = 0 WHERE submitted IS NULL;
ALTER TABLE sketches
  MODIFY createTime DATETIME(3) NOT NULL,
  MODIFY clientName VARCHAR(255) NOT NULL,
  MODIFY campaignName VARCHAR(255) NOT NULL,
  MODIFY `group` INT UNSIGNED NOT NULL,
  MODIFY day BIGINT NOT NULL,
  MODIFY queriesCount INT UNSIGNED NOT NULL,
  MODIFY submitted TINYINT(1) NOT NULL;
ALTER TABLE sketches ADD INDEX sketches_by_client (clientName, submitted);
ALTER TABLE sketches ADD INDEX sketches_by_day (campaignName, day, `group`);
