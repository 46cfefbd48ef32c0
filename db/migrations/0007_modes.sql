DROP INDEX `document_submissions_idempotency_unique`;--> statement-breakpoint
DROP INDEX `document_submissions_user_idx`;--> statement-breakpoint
ALTER TABLE `document_submissions` ADD `mode` text DEFAULT 'test' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `document_submissions_mode_idempotency_unique` ON `document_submissions` (`partner_id`,`mode`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `document_submissions_mode_user_idx` ON `document_submissions` (`partner_id`,`mode`,`user_id`,`id`);--> statement-breakpoint
DROP INDEX `events_partner_id_idx`;--> statement-breakpoint
ALTER TABLE `events` ADD `mode` text DEFAULT 'test' NOT NULL;--> statement-breakpoint
CREATE INDEX `events_partner_mode_id_idx` ON `events` (`partner_id`,`mode`,`id`);--> statement-breakpoint
DROP INDEX `provider_connections_partner_provider_unique`;--> statement-breakpoint
ALTER TABLE `provider_connections` ADD `mode` text DEFAULT 'test' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `provider_connections_partner_mode_provider_unique` ON `provider_connections` (`partner_id`,`mode`,`provider`);--> statement-breakpoint
DROP INDEX `transfers_partner_transfer_unique`;--> statement-breakpoint
DROP INDEX `transfers_partner_id_idx`;--> statement-breakpoint
ALTER TABLE `transfers` ADD `mode` text DEFAULT 'test' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_partner_mode_transfer_unique` ON `transfers` (`partner_id`,`mode`,`transfer_id`);--> statement-breakpoint
CREATE INDEX `transfers_partner_mode_id_idx` ON `transfers` (`partner_id`,`mode`,`id`);--> statement-breakpoint
DROP INDEX `webhook_endpoints_partner_idx`;--> statement-breakpoint
ALTER TABLE `webhook_endpoints` ADD `mode` text DEFAULT 'test' NOT NULL;--> statement-breakpoint
CREATE INDEX `webhook_endpoints_partner_mode_idx` ON `webhook_endpoints` (`partner_id`,`mode`,`id`);--> statement-breakpoint
-- Existing rows take the mode of the keys that could have made them: a partner that only ever had live keys
-- was live; every other partner's rows are test (the safe side: a test key never reaches live money).
UPDATE `provider_connections` SET `mode` = 'live' WHERE `partner_id` IN (SELECT `partner_id` FROM `api_keys` GROUP BY `partner_id` HAVING SUM(`mode` = 'live') > 0 AND SUM(`mode` = 'test') = 0);--> statement-breakpoint
UPDATE `transfers` SET `mode` = 'live' WHERE `partner_id` IN (SELECT `partner_id` FROM `api_keys` GROUP BY `partner_id` HAVING SUM(`mode` = 'live') > 0 AND SUM(`mode` = 'test') = 0);--> statement-breakpoint
UPDATE `events` SET `mode` = 'live' WHERE `partner_id` IN (SELECT `partner_id` FROM `api_keys` GROUP BY `partner_id` HAVING SUM(`mode` = 'live') > 0 AND SUM(`mode` = 'test') = 0);--> statement-breakpoint
UPDATE `webhook_endpoints` SET `mode` = 'live' WHERE `partner_id` IN (SELECT `partner_id` FROM `api_keys` GROUP BY `partner_id` HAVING SUM(`mode` = 'live') > 0 AND SUM(`mode` = 'test') = 0);--> statement-breakpoint
UPDATE `document_submissions` SET `mode` = 'live' WHERE `partner_id` IN (SELECT `partner_id` FROM `api_keys` GROUP BY `partner_id` HAVING SUM(`mode` = 'live') > 0 AND SUM(`mode` = 'test') = 0);
