-- Indexes for what dashboards ask of the views: a range of business days, for one instance or all, and
-- one agent's days. Each view reads a single table (dates and leg totals are denormalised by the triggers
-- of the two previous migrations), so each range is one index range scan.
--
-- The calls index carries every column daily_calls and the outcome half of skill_group_daily read, so they
-- scan the index alone instead of the wide rows of ccc.calls (which hold the raw JSON): a month of calls
-- reads about a quarter of the pages. A view that comes to read another column of ccc.calls stays correct,
-- only slower, until the column is added here.

CREATE INDEX calls_business_date_idx ON ccc.calls (business_date, instance_id)
    INCLUDE (start_time, contact_type, contact_disposition, duration, skill_group_names, satisfaction,
             satisfaction_desc, leg_count, queue_time, ring_time, talk_time, hold_time, work_time);
COMMENT ON INDEX ccc.calls_business_date_idx IS
    'Business-day ranges on ccc.calls, covering the columns of daily_calls and skill_group_daily (index-only scans).';

CREATE INDEX agent_legs_business_date_idx ON ccc.agent_legs (business_date, instance_id);
COMMENT ON INDEX ccc.agent_legs_business_date_idx IS
    'Business-day ranges on ccc.agent_legs: agent_daily for all agents and the leg half of skill_group_daily.';

CREATE INDEX agent_legs_agent_idx ON ccc.agent_legs (agent_id, business_date);
COMMENT ON INDEX ccc.agent_legs_agent_idx IS
    'One agent''s days: agent_daily filtered on agent_id and a business_date range.';
