-- Least privilege for ccc-sync. Run once per database as a superuser (or the database owner with
-- CREATEROLE), before the first `ccc-sync migrate`:
--     psql "postgres://admin@db/warehouse" -f deploy/sql/roles.sql
--     psql ... -c "ALTER ROLE ccc_sync PASSWORD '...'"        -- or use certificate / IAM auth
--
-- ccc_sync   the daemon: owns schema ccc and everything in it (tables, the migration history); no rights
--            on public or any other schema.
-- ccc_reader BI tools (Metabase, Superset, Grafana, Power BI): SELECT on every table and view in ccc, now
--            and in future migrations. Grant it to a login role per tool: GRANT ccc_reader TO metabase;

DO $$ BEGIN CREATE ROLE ccc_sync LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE ccc_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ccc_sync, ccc_reader', current_database());
END $$;

CREATE SCHEMA IF NOT EXISTS ccc AUTHORIZATION ccc_sync;
ALTER SCHEMA ccc OWNER TO ccc_sync;
REVOKE CREATE ON SCHEMA public FROM ccc_sync;

GRANT USAGE ON SCHEMA ccc TO ccc_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA ccc TO ccc_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE ccc_sync IN SCHEMA ccc GRANT SELECT ON TABLES TO ccc_reader;
