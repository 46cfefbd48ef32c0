CREATE TABLE `document_submissions` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`provider` text NOT NULL,
	`user_id` text NOT NULL,
	`ddq_id` text,
	`idempotency_key` text,
	`request_hash` text NOT NULL,
	`status` text NOT NULL,
	`files` text NOT NULL,
	`failure_code` text,
	`failure_message` text,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `document_submissions_idempotency_unique` ON `document_submissions` (`partner_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `document_submissions_user_idx` ON `document_submissions` (`partner_id`,`user_id`,`id`);