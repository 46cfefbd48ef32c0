PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_events` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`mode` text DEFAULT 'test' NOT NULL,
	`transfer_pk` text,
	`transfer_id` text NOT NULL,
	`type` text NOT NULL,
	`sequence` integer NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`transfer_pk`) REFERENCES `transfers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_events`("id", "partner_id", "mode", "transfer_pk", "transfer_id", "type", "sequence", "data", "created_at") SELECT "id", "partner_id", "mode", "transfer_pk", "transfer_id", "type", "sequence", "data", "created_at" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `events_partner_mode_id_idx` ON `events` (`partner_id`,`mode`,`id`);--> statement-breakpoint
CREATE INDEX `events_partner_transfer_idx` ON `events` (`partner_id`,`transfer_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `events_created_at_idx` ON `events` (`created_at`);