CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`mode` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE INDEX `api_keys_partner_idx` ON `api_keys` (`partner_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`transfer_pk` text NOT NULL,
	`transfer_id` text NOT NULL,
	`type` text NOT NULL,
	`sequence` integer NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`transfer_pk`) REFERENCES `transfers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `events_partner_id_idx` ON `events` (`partner_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_partner_transfer_idx` ON `events` (`partner_id`,`transfer_id`,`sequence`);--> statement-breakpoint
CREATE TABLE `partners` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`resend_limit` integer,
	`resend_cooldown_seconds` integer,
	`confirm_attempts` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `provider_connections` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`provider` text NOT NULL,
	`base_url` text NOT NULL,
	`credentials` text NOT NULL,
	`settings` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `provider_connections_partner_provider_unique` ON `provider_connections` (`partner_id`,`provider`);--> statement-breakpoint
CREATE TABLE `transfers` (
	`id` text PRIMARY KEY NOT NULL,
	`partner_id` text NOT NULL,
	`transfer_id` text NOT NULL,
	`provider` text NOT NULL,
	`status` text NOT NULL,
	`provider_status` text,
	`provider_reference` text,
	`request_hash` text NOT NULL,
	`details` text NOT NULL,
	`metadata` text,
	`provider_state` text,
	`lease_until` integer,
	`verification_channel` text,
	`code_sent_at` integer,
	`code_expires_at` integer,
	`resends_used` integer DEFAULT 0 NOT NULL,
	`resend_limit` integer NOT NULL,
	`resend_cooldown_ms` integer NOT NULL,
	`attempts_remaining` integer,
	`failure_code` text,
	`failure_message` text,
	`sequence` integer DEFAULT 0 NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`partner_id`) REFERENCES `partners`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_partner_transfer_unique` ON `transfers` (`partner_id`,`transfer_id`);--> statement-breakpoint
CREATE INDEX `transfers_partner_id_idx` ON `transfers` (`partner_id`,`id`);--> statement-breakpoint
CREATE INDEX `transfers_status_idx` ON `transfers` (`status`,`provider`);--> statement-breakpoint
CREATE INDEX `transfers_provider_reference_idx` ON `transfers` (`provider`,`provider_reference`);