-- Only possible while no NR area is stored.
ALTER TABLE `cell_area` MODIFY COLUMN `areaid` binary(7) NOT NULL, MODIFY COLUMN `lac` smallint(5) unsigned NOT NULL;
