-- 5G NR: NR area ids are 8 bytes (24-bit tracking area code), so areaid becomes
-- VARBINARY(8) and lac an unsigned INT. Existing 7-byte ids and 16-bit codes are unchanged.
ALTER TABLE `cell_area` MODIFY COLUMN `areaid` varbinary(8) NOT NULL, MODIFY COLUMN `lac` int(10) unsigned NOT NULL;
