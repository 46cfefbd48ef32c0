CREATE TABLE `cron_jobs` (
	`job` text PRIMARY KEY NOT NULL,
	`last_run_at` integer NOT NULL,
	`last_success_at` integer,
	`last_failure_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `provider_call_stats` (
	`provider` text NOT NULL,
	`minute` integer NOT NULL,
	`calls` integer NOT NULL,
	`failures` integer NOT NULL,
	`last_failure_kind` text,
	PRIMARY KEY(`provider`, `minute`)
);
