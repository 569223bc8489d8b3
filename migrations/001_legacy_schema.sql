-- The previous server's five tables, as it created them. A database it used is at this version
-- (it had no schema_version table); a fresh database gets them empty and is upgraded like one.
CREATE TABLE IF NOT EXISTS clients (
  unused_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL UNIQUE,
  createTime TIMESTAMP NULL,
  publicKey VARCHAR(255),
  browser VARCHAR(255),
  externalName VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS campaigns (
  unused_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL UNIQUE,
  createTime TIMESTAMP NULL,
  displayName VARCHAR(255),
  email TEXT NOT NULL,
  notes TEXT NOT NULL,
  vocabulary LONGTEXT NOT NULL,
  startTime TIMESTAMP NULL,
  endTime TIMESTAMP NULL,
  delay INT,
  graceDelay INT,
  groupSize INT,
  samplingRate DOUBLE NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS aggregations (
  unused_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL UNIQUE,
  campaignName VARCHAR(255),
  day INT,
  decryptedValues LONGTEXT,
  rawValues LONGTEXT,
  activeCount INT,
  submittedCount INT,
  decryptedCount INT
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS sketches (
  unused_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL UNIQUE,
  createTime TIMESTAMP NULL,
  clientName VARCHAR(255),
  campaignName VARCHAR(255),
  `group` INT,
  day INT,
  publicKey VARCHAR(255),
  queriesCount INT,
  encryptedValues LONGTEXT,
  rawValues LONGTEXT,
  submitted TINYINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS activity (
  unused_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  clientName VARCHAR(255),
  time TIMESTAMP NULL,
  countryCode VARCHAR(2) NOT NULL,
  timezone VARCHAR(50) NOT NULL,
  extensionVersion VARCHAR(50) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
