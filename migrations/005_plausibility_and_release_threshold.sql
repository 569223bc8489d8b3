-- Numbers researchers can publish: per campaign the most searches one member may count in a
-- day (`maxCount`) and the release threshold (`minDecryptedCount`, 0 = off); per result the
-- members of rejected groups and whether its values were withheld. The defaults make an
-- existing database read as before: its results were neither rejected nor withheld.
-- Each statement is safe to run again (a repeated ADD COLUMN is "already done").
ALTER TABLE campaigns
  ADD COLUMN maxCount INT NOT NULL DEFAULT 10000,
  ADD COLUMN minDecryptedCount INT NOT NULL DEFAULT 0;
ALTER TABLE aggregations
  ADD COLUMN rejectedCount BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN withheld TINYINT(1) NOT NULL DEFAULT 0;
