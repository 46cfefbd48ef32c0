CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`mode` text NOT NULL,
	`login_hash` text NOT NULL,
	`login_expires_at` integer NOT NULL,
	`session_hash` text,
	`return_url` text,
	`created_at` integer NOT NULL,
	`used_at` integer,
	`expires_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_login_unique` ON `portal_sessions` (`login_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_session_unique` ON `portal_sessions` (`session_hash`);--> statement-breakpoint
CREATE INDEX `portal_sessions_partner_idx` ON `portal_sessions` (`partner_id`,`mode`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `last_used_at` integer;