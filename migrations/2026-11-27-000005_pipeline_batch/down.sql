-- Forgets which batches were processed: a replayed batch would then be applied again.
DROP TABLE IF EXISTS `pipeline_batch`;
