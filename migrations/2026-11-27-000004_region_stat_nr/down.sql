ALTER TABLE `region_stat` DROP COLUMN `nr`;
