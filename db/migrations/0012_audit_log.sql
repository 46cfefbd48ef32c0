CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text,
	`mode` text,
	`actor_type` text NOT NULL,
	`actor_id` text NOT NULL,
	`actor_label` text,
	`action` text NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text,
	`outcome` text NOT NULL,
	`status` integer,
	`problem_code` text,
	`client_address` text,
	`request_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_partner_idx` ON `audit_log` (`partner_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_created_idx` ON `audit_log` (`created_at`);