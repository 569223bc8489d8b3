-- Kept tables: full Unicode with exact (binary) name comparison, millisecond UTC times that
-- never auto-update (times first, so that no UPDATE below touches an auto-updating TIMESTAMP),
-- NULL instead of '' for absent values, and the indexes the queries use.
-- Each statement is safe to run again: DDL auto-commits, so a crash may repeat one.
ALTER TABLE clients CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ROW_FORMAT=DYNAMIC;
ALTER TABLE clients
  MODIFY createTime DATETIME(3) NULL,
  MODIFY externalName VARCHAR(255) NULL;
UPDATE clients SET createTime = '1970-01-01 00:00:00' WHERE createTime IS NULL;
UPDATE clients SET publicKey = '' WHERE publicKey IS NULL;
UPDATE clients SET browser = '' WHERE browser IS NULL;
UPDATE clients SET externalName = NULL WHERE externalName = '';
ALTER TABLE clients
  MODIFY createTime DATETIME(3) NOT NULL,
  MODIFY publicKey VARCHAR(255) NOT NULL,
  MODIFY browser VARCHAR(255) NOT NULL;
ALTER TABLE clients ADD INDEX clients_by_time (createTime, name);

ALTER TABLE activity CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ROW_FORMAT=DYNAMIC;
ALTER TABLE activity
  MODIFY unused_id BIGINT NOT NULL AUTO_INCREMENT,
  MODIFY time DATETIME(3) NULL,
  MODIFY countryCode VARCHAR(2) NULL,
  MODIFY timezone VARCHAR(50) NULL,
  MODIFY extensionVersion VARCHAR(50) NULL;
DELETE FROM activity WHERE clientName IS NULL OR time IS NULL;
UPDATE activity SET countryCode = NULL WHERE countryCode = '';
UPDATE activity SET timezone = NULL WHERE timezone = '';
UPDATE activity SET extensionVersion = NULL WHERE extensionVersion = '';
ALTER TABLE activity
  MODIFY clientName VARCHAR(255) NOT NULL,
  MODIFY time DATETIME(3) NOT NULL;
ALTER TABLE activity ADD INDEX activity_by_time (time);
ALTER TABLE activity ADD INDEX activity_by_client (clientName, time);

ALTER TABLE campaigns CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ROW_FORMAT=DYNAMIC;
ALTER TABLE campaigns
  MODIFY createTime DATETIME(3) NULL,
  MODIFY startTime DATETIME(3) NULL,
  MODIFY endTime DATETIME(3) NULL,
  MODIFY email TEXT NULL,
  MODIFY notes MEDIUMTEXT NULL;
UPDATE campaigns SET createTime = '1970-01-01 00:00:00' WHERE createTime IS NULL;
UPDATE campaigns SET displayName = name WHERE displayName IS NULL;
UPDATE campaigns SET delay = 0 WHERE delay IS NULL;
UPDATE campaigns SET graceDelay = 0 WHERE graceDelay IS NULL;
UPDATE campaigns SET groupSize = 10 WHERE groupSize IS NULL;
UPDATE campaigns SET email = NULL WHERE email = '';
UPDATE campaigns SET notes = NULL WHERE notes = '';
ALTER TABLE campaigns
  MODIFY createTime DATETIME(3) NOT NULL,
  MODIFY displayName VARCHAR(255) NOT NULL,
  MODIFY delay INT NOT NULL,
  MODIFY graceDelay INT NOT NULL,
  MODIFY groupSize INT NOT NULL;

ALTER TABLE aggregations CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ROW_FORMAT=DYNAMIC;
DELETE FROM aggregations WHERE campaignName IS NULL OR day IS NULL;
UPDATE aggregations SET decryptedValues = '' WHERE decryptedValues IS NULL;
UPDATE aggregations SET rawValues = '' WHERE rawValues IS NULL;
UPDATE aggregations SET activeCount = 0 WHERE activeCount IS NULL;
UPDATE aggregations SET submittedCount = 0 WHERE submittedCount IS NULL;
UPDATE aggregations SET decryptedCount = 0 WHERE decryptedCount IS NULL;
ALTER TABLE aggregations
  MODIFY campaignName VARCHAR(255) NOT NULL,
  MODIFY day BIGINT NOT NULL,
  MODIFY decryptedValues LONGTEXT NOT NULL,
  MODIFY rawValues LONGTEXT NOT NULL,
  MODIFY activeCount BIGINT NOT NULL,
  MODIFY submittedCount BIGINT NOT NULL,
  MODIFY decryptedCount BIGINT NOT NULL;
ALTER TABLE aggregations ADD UNIQUE INDEX aggregations_by_day (campaignName, day);
