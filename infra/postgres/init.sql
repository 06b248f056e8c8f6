-- Runs once, when the postgres container initialises an empty data volume, against the
-- `relay` database. Each service owns one schema; the processes also create their schema
-- (and run their migrations) at start-up, so everything here is idempotent.
CREATE SCHEMA IF NOT EXISTS runtime;        -- shared job runtime: failed jobs, processed messages
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE SCHEMA IF NOT EXISTS sms;
CREATE SCHEMA IF NOT EXISTS payments;
CREATE SCHEMA IF NOT EXISTS tournaments;
CREATE SCHEMA IF NOT EXISTS notifications;
