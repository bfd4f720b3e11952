-- Exactly-once station, area, datamap and stat updates under at-least-once queue delivery:
-- a worker records every queue batch it applies, in the same transaction as the batch's
-- writes, and skips a batch whose marker already exists. Old markers are deleted by age.
CREATE TABLE IF NOT EXISTS `pipeline_batch` (
  `queue` varchar(64) NOT NULL,
  `batch_id` bigint(20) unsigned NOT NULL,
  `processed` datetime NOT NULL,
  PRIMARY KEY (`queue`, `batch_id`),
  KEY `pipeline_batch_processed_idx` (`processed`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
