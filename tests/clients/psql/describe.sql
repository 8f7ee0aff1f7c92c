-- Tables whose psql descriptions are compared with PostgreSQL's (psql_describe.sh).
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2) DEFAULT 0, placed_at timestamp with time zone DEFAULT now(), note varchar(80), tags text[], paid boolean NOT NULL DEFAULT false);
CREATE TABLE shop.lines (order_id bigint, line int, sku text, qty int DEFAULT 1, PRIMARY KEY (order_id, line));
CREATE TABLE shop.events (at timestamp, payload jsonb, u uuid);
