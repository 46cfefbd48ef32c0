CREATE TABLE `simulator_state` (
	`partner_id` text NOT NULL,
	`provider` text NOT NULL,
	`state` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`partner_id`, `provider`)
);
