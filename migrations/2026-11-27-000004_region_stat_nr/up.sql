-- Per-region count of 5G NR cells.
ALTER TABLE `region_stat` ADD COLUMN `nr` int(10) unsigned DEFAULT NULL AFTER `lte`;
