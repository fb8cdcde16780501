-- The reporting views: one row per call with labels and leg totals (calls_enriched), and daily aggregates
-- per instance and contact type (daily_calls), per agent (agent_daily) and per skill group
-- (skill_group_daily). Every day is a calendar day in the business time zone (ccc.calls.business_date), and
-- a call counts on the day it started in all four views, so their figures add up.
--
-- Shared definitions (docs/warehouse.md has the long form):
--   answered  the disposition counts as answered in ccc.contact_dispositions (unknown codes: not answered)
--   abandoned the disposition counts as abandoned there (unknown codes: not abandoned)
--   routed    the call has at least one agent leg
--   handled   an agent talked: some leg has talk_time > 0
--   leg times a NULL time on a leg counts as 0; a call without legs has NULL leg times, so it is left out of
--             sums and averages instead of counting as 0
--   averages  over routed calls for queue and ring time, over handled calls for talk, hold, after-call work
--             and handle time; each view also carries the totals, so that weeks and months are averaged as
--             total / count, never as an average of daily averages

CREATE VIEW ccc.calls_enriched AS
SELECT
    c.instance_id,
    c.contact_id,
    c.start_time,
    c.start_time + make_interval(secs => c.duration) AS end_time,
    c.business_date,
    c.start_time AT TIME ZONE (SELECT ccc.business_time_zone()) AS start_time_local,
    extract(hour FROM c.start_time AT TIME ZONE (SELECT ccc.business_time_zone()))::integer AS business_hour,
    c.duration,
    c.contact_type,
    coalesce(t.label_en, c.contact_type) AS contact_type_label_en,
    coalesce(t.label_zh, c.contact_type) AS contact_type_label_zh,
    t.direction,
    c.contact_disposition,
    coalesce(d.label_en, c.contact_disposition) AS disposition_label_en,
    coalesce(d.label_zh, c.contact_disposition) AS disposition_label_zh,
    coalesce(d.is_answered, false) AS is_answered,
    coalesce(d.is_abandoned, false) AS is_abandoned,
    c.leg_count > 0 AS is_routed,
    coalesce(c.talk_time > 0, false) AS is_handled,
    c.calling_number,
    c.called_number,
    c.agent_names,
    c.skill_group_names,
    c.satisfaction,
    c.satisfaction_desc,
    c.satisfaction IS NOT NULL AS is_rated,
    c.feedback,
    c.leg_count,
    c.queue_time,
    c.ring_time,
    c.talk_time,
    c.hold_time,
    c.work_time,
    c.talk_time + c.hold_time + c.work_time AS handle_time
FROM ccc.calls AS c
LEFT JOIN ccc.contact_types AS t ON t.code = c.contact_type
LEFT JOIN ccc.contact_dispositions AS d ON d.code = c.contact_disposition;

COMMENT ON VIEW ccc.calls_enriched IS
    'One row per call of ccc.calls with labels, end time, business-local day and hour, answered/abandoned/routed/handled flags and the totals of its agent legs. The base of every call-level chart; filter on business_date or start_time.';
COMMENT ON COLUMN ccc.calls_enriched.instance_id IS 'CCC instance (ccc.calls.instance_id).';
COMMENT ON COLUMN ccc.calls_enriched.contact_id IS 'Call id (ccc.calls.contact_id).';
COMMENT ON COLUMN ccc.calls_enriched.start_time IS 'When the call started (CallDetailRecord.StartTime).';
COMMENT ON COLUMN ccc.calls_enriched.end_time IS 'start_time + duration seconds; NULL when duration is NULL.';
COMMENT ON COLUMN ccc.calls_enriched.business_date IS 'Calendar day of start_time in the business time zone; the day the call is reported on.';
COMMENT ON COLUMN ccc.calls_enriched.start_time_local IS 'start_time as wall-clock time in the business time zone (timestamp without time zone).';
COMMENT ON COLUMN ccc.calls_enriched.business_hour IS 'Hour of day (0-23) of start_time in the business time zone, for hour-of-day charts.';
COMMENT ON COLUMN ccc.calls_enriched.duration IS 'Length of the whole call in seconds (CallDetailRecord.Duration).';
COMMENT ON COLUMN ccc.calls_enriched.contact_type IS 'ContactType code (ccc.contact_types.code).';
COMMENT ON COLUMN ccc.calls_enriched.contact_type_label_en IS 'English label of the contact type; the code itself when ccc.contact_types does not know it.';
COMMENT ON COLUMN ccc.calls_enriched.contact_type_label_zh IS 'Chinese label of the contact type; the code itself when ccc.contact_types does not know it.';
COMMENT ON COLUMN ccc.calls_enriched.direction IS 'inbound, outbound or internal (ccc.contact_types.direction); NULL for an unknown contact type.';
COMMENT ON COLUMN ccc.calls_enriched.contact_disposition IS 'ContactDisposition code (ccc.contact_dispositions.code).';
COMMENT ON COLUMN ccc.calls_enriched.disposition_label_en IS 'English label of the disposition; the code itself when ccc.contact_dispositions does not know it.';
COMMENT ON COLUMN ccc.calls_enriched.disposition_label_zh IS 'Chinese label of the disposition; the code itself when ccc.contact_dispositions does not know it.';
COMMENT ON COLUMN ccc.calls_enriched.is_answered IS 'The disposition counts as answered (ccc.contact_dispositions.is_answered); false for an unknown or missing disposition.';
COMMENT ON COLUMN ccc.calls_enriched.is_abandoned IS 'The caller gave up while waiting for an agent (ccc.contact_dispositions.is_abandoned); false for an unknown or missing disposition.';
COMMENT ON COLUMN ccc.calls_enriched.is_routed IS 'The call has at least one agent leg: it was offered to an agent.';
COMMENT ON COLUMN ccc.calls_enriched.is_handled IS 'An agent talked with the customer: talk_time > 0 over the legs.';
COMMENT ON COLUMN ccc.calls_enriched.calling_number IS 'Calling number, raw, masked or hashed per the [privacy] phone_numbers setting.';
COMMENT ON COLUMN ccc.calls_enriched.called_number IS 'Called number, raw, masked or hashed per the [privacy] phone_numbers setting.';
COMMENT ON COLUMN ccc.calls_enriched.agent_names IS 'Agents on the call, comma-separated (CallDetailRecord.AgentNames).';
COMMENT ON COLUMN ccc.calls_enriched.skill_group_names IS 'Skill groups of the call, comma-separated (CallDetailRecord.SkillGroupNames).';
COMMENT ON COLUMN ccc.calls_enriched.satisfaction IS 'Survey answer key; NULL unless the customer rated the call (CallDetailRecord.Satisfaction).';
COMMENT ON COLUMN ccc.calls_enriched.satisfaction_desc IS 'Survey outcome text, e.g. 满意, 未评价 (not rated), 未发送 (not sent).';
COMMENT ON COLUMN ccc.calls_enriched.is_rated IS 'The customer answered the survey: satisfaction is not NULL.';
COMMENT ON COLUMN ccc.calls_enriched.feedback IS 'Free-text feedback (CallDetailRecord.Feedback).';
COMMENT ON COLUMN ccc.calls_enriched.leg_count IS 'Number of agent legs of the call (rows in ccc.agent_legs); 0 when it reached no agent.';
COMMENT ON COLUMN ccc.calls_enriched.queue_time IS 'Seconds in skill group queues: sum of QueueTime over the legs, a NULL leg value counting as 0; NULL when the call has no legs.';
COMMENT ON COLUMN ccc.calls_enriched.ring_time IS 'Seconds agents'' phones rang: sum of RingTime over the legs, NULL leg value as 0; NULL when the call has no legs.';
COMMENT ON COLUMN ccc.calls_enriched.talk_time IS 'Seconds agents talked: sum of TalkTime over the legs, NULL leg value as 0; NULL when the call has no legs.';
COMMENT ON COLUMN ccc.calls_enriched.hold_time IS 'Seconds on hold: sum of HoldTime over the legs, NULL leg value as 0; NULL when the call has no legs.';
COMMENT ON COLUMN ccc.calls_enriched.work_time IS 'Seconds of after-call work: sum of WorkTime over the legs, NULL leg value as 0; NULL when the call has no legs.';
COMMENT ON COLUMN ccc.calls_enriched.handle_time IS 'Handle time in seconds: talk_time + hold_time + work_time over the legs; NULL when the call has no legs.';

-- Aggregated first per disposition over narrow columns of ccc.calls (an index-only scan of
-- calls_business_date_idx), then labelled and classified: the same figures as aggregating calls_enriched,
-- at about two thirds of the cost.
CREATE VIEW ccc.daily_calls AS
SELECT
    g.business_date,
    g.instance_id,
    g.contact_type,
    coalesce(t.label_en, g.contact_type) AS contact_type_label_en,
    coalesce(t.label_zh, g.contact_type) AS contact_type_label_zh,
    sum(g.calls)::bigint AS offered,
    coalesce(sum(g.calls) FILTER (WHERE d.is_answered), 0)::bigint AS answered,
    coalesce(sum(g.calls) FILTER (WHERE d.is_abandoned), 0)::bigint AS abandoned,
    round(coalesce(sum(g.calls) FILTER (WHERE d.is_answered), 0) / sum(g.calls), 4) AS answer_rate,
    round(coalesce(sum(g.calls) FILTER (WHERE d.is_abandoned), 0) / sum(g.calls), 4) AS abandon_rate,
    sum(g.routed)::bigint AS routed,
    sum(g.handled)::bigint AS handled,
    sum(g.duration)::bigint AS duration_total,
    sum(g.queue_time)::bigint AS queue_time_total,
    sum(g.ring_time)::bigint AS ring_time_total,
    sum(g.talk_time)::bigint AS talk_time_total,
    sum(g.hold_time)::bigint AS hold_time_total,
    sum(g.work_time)::bigint AS work_time_total,
    sum(g.handle_time)::bigint AS handle_time_total,
    round(sum(g.queue_time) / nullif(sum(g.routed), 0), 1) AS avg_queue_time,
    round(sum(g.ring_time) / nullif(sum(g.routed), 0), 1) AS avg_ring_time,
    round(sum(g.talk_time) / nullif(sum(g.handled), 0), 1) AS avg_talk_time,
    round(sum(g.hold_time) / nullif(sum(g.handled), 0), 1) AS avg_hold_time,
    round(sum(g.work_time) / nullif(sum(g.handled), 0), 1) AS avg_work_time,
    round(sum(g.handle_time) / nullif(sum(g.handled), 0), 1) AS avg_handle_time,
    sum(g.rated)::bigint AS rated,
    sum(g.survey_not_rated)::bigint AS survey_not_rated,
    sum(g.survey_not_sent)::bigint AS survey_not_sent
FROM (
    SELECT
        c.business_date,
        c.instance_id,
        c.contact_type,
        c.contact_disposition,
        count(*) AS calls,
        count(*) FILTER (WHERE c.leg_count > 0) AS routed,
        count(*) FILTER (WHERE c.talk_time > 0) AS handled,
        sum(c.duration) AS duration,
        sum(c.queue_time) AS queue_time,
        sum(c.ring_time) AS ring_time,
        sum(c.talk_time) AS talk_time,
        sum(c.hold_time) AS hold_time,
        sum(c.work_time) AS work_time,
        sum(c.talk_time + c.hold_time + c.work_time) AS handle_time,
        count(*) FILTER (WHERE c.satisfaction IS NOT NULL) AS rated,
        count(*) FILTER (WHERE c.satisfaction IS NULL AND c.satisfaction_desc = '未评价') AS survey_not_rated,
        count(*) FILTER (WHERE c.satisfaction IS NULL AND c.satisfaction_desc = '未发送') AS survey_not_sent
    FROM ccc.calls AS c
    GROUP BY c.business_date, c.instance_id, c.contact_type, c.contact_disposition
) AS g
LEFT JOIN ccc.contact_types AS t ON t.code = g.contact_type
LEFT JOIN ccc.contact_dispositions AS d ON d.code = g.contact_disposition
GROUP BY g.business_date, g.instance_id, g.contact_type, t.label_en, t.label_zh;

COMMENT ON VIEW ccc.daily_calls IS
    'Calls per business day, instance and contact type: volumes, outcomes, average times and survey counts. Filter on business_date (indexed). To roll up weeks or months, sum the counts and *_total columns and divide; do not average the averages.';
COMMENT ON COLUMN ccc.daily_calls.business_date IS 'Calendar day in the business time zone on which the calls started.';
COMMENT ON COLUMN ccc.daily_calls.instance_id IS 'CCC instance.';
COMMENT ON COLUMN ccc.daily_calls.contact_type IS 'ContactType code; NULL groups the calls that had none.';
COMMENT ON COLUMN ccc.daily_calls.contact_type_label_en IS 'English label of the contact type (the code when unknown).';
COMMENT ON COLUMN ccc.daily_calls.contact_type_label_zh IS 'Chinese label of the contact type (the code when unknown).';
COMMENT ON COLUMN ccc.daily_calls.offered IS 'Calls in the group: every call record, whatever its outcome.';
COMMENT ON COLUMN ccc.daily_calls.answered IS 'Calls whose disposition counts as answered (Success, OneStepTransfer).';
COMMENT ON COLUMN ccc.daily_calls.abandoned IS 'Calls whose disposition counts as abandoned (AbandonedInQueue, AbandonedRing). Calls that ended in the IVR are not abandoned.';
COMMENT ON COLUMN ccc.daily_calls.answer_rate IS 'answered / offered, a fraction between 0 and 1 (4 decimals).';
COMMENT ON COLUMN ccc.daily_calls.abandon_rate IS 'abandoned / offered, a fraction between 0 and 1 (4 decimals).';
COMMENT ON COLUMN ccc.daily_calls.routed IS 'Calls with at least one agent leg: the denominator of avg_queue_time and avg_ring_time.';
COMMENT ON COLUMN ccc.daily_calls.handled IS 'Calls on which an agent talked (talk_time > 0 over the legs): the denominator of avg_talk_time, avg_hold_time, avg_work_time and avg_handle_time.';
COMMENT ON COLUMN ccc.daily_calls.duration_total IS 'Sum of the calls'' durations in seconds (CallDetailRecord.Duration); NULL durations are left out.';
COMMENT ON COLUMN ccc.daily_calls.queue_time_total IS 'Sum of queue time over the calls'' legs, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.ring_time_total IS 'Sum of ring time over the calls'' legs, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.talk_time_total IS 'Sum of talk time over the calls'' legs, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.hold_time_total IS 'Sum of hold time over the calls'' legs, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.work_time_total IS 'Sum of after-call work over the calls'' legs, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.handle_time_total IS 'talk_time_total + hold_time_total + work_time_total, in seconds.';
COMMENT ON COLUMN ccc.daily_calls.avg_queue_time IS 'queue_time_total / routed, in seconds (1 decimal); NULL when no call was routed.';
COMMENT ON COLUMN ccc.daily_calls.avg_ring_time IS 'ring_time_total / routed, in seconds (1 decimal); NULL when no call was routed.';
COMMENT ON COLUMN ccc.daily_calls.avg_talk_time IS 'talk_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.daily_calls.avg_hold_time IS 'hold_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.daily_calls.avg_work_time IS 'work_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.daily_calls.avg_handle_time IS 'Average handle time: handle_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.daily_calls.rated IS 'Calls the customer rated (satisfaction is not NULL).';
COMMENT ON COLUMN ccc.daily_calls.survey_not_rated IS 'Calls not rated whose survey was sent (SatisfactionDesc 未评价).';
COMMENT ON COLUMN ccc.daily_calls.survey_not_sent IS 'Calls not rated whose survey was not sent (SatisfactionDesc 未发送).';

CREATE VIEW ccc.agent_daily AS
SELECT
    a.business_date,
    a.instance_id,
    a.agent_id,
    (array_agg(a.agent_name ORDER BY a.start_time DESC NULLS LAST, a.contact_id DESC, a.leg_no DESC)
        FILTER (WHERE a.agent_name IS NOT NULL))[1] AS agent_name,
    count(*) AS legs,
    count(DISTINCT a.contact_id) AS calls_offered,
    count(DISTINCT a.contact_id) FILTER (WHERE a.talk_time > 0) AS calls_handled,
    sum(coalesce(a.ring_time, 0)) AS ring_time,
    sum(coalesce(a.talk_time, 0)) AS talk_time,
    sum(coalesce(a.hold_time, 0)) AS hold_time,
    sum(coalesce(a.work_time, 0)) AS work_time,
    sum(coalesce(a.talk_time, 0) + coalesce(a.hold_time, 0) + coalesce(a.work_time, 0)) AS handle_time,
    round(sum(coalesce(a.talk_time, 0))
        / nullif(count(DISTINCT a.contact_id) FILTER (WHERE a.talk_time > 0), 0)::numeric, 1) AS avg_talk_time,
    round(sum(coalesce(a.talk_time, 0) + coalesce(a.hold_time, 0) + coalesce(a.work_time, 0))
        / nullif(count(DISTINCT a.contact_id) FILTER (WHERE a.talk_time > 0), 0)::numeric, 1) AS avg_handle_time
FROM ccc.agent_legs AS a
WHERE a.agent_id IS NOT NULL
GROUP BY a.business_date, a.instance_id, a.agent_id;

COMMENT ON VIEW ccc.agent_daily IS
    'Work per agent per business day, from the agent legs. A leg counts on the day its call started. Legs without an AgentId are left out. Filter on agent_id and business_date.';
COMMENT ON COLUMN ccc.agent_daily.business_date IS 'Calendar day in the business time zone on which the calls started.';
COMMENT ON COLUMN ccc.agent_daily.instance_id IS 'CCC instance.';
COMMENT ON COLUMN ccc.agent_daily.agent_id IS 'Agent (CallDetailAgent.AgentId).';
COMMENT ON COLUMN ccc.agent_daily.agent_name IS 'The agent''s name on their latest leg of the day that carries one (CallDetailAgent.AgentName).';
COMMENT ON COLUMN ccc.agent_daily.legs IS 'Agent legs of the day: every time a call was offered to the agent.';
COMMENT ON COLUMN ccc.agent_daily.calls_offered IS 'Distinct calls with at least one leg of this agent.';
COMMENT ON COLUMN ccc.agent_daily.calls_handled IS 'Distinct calls on which this agent talked (a leg with talk_time > 0).';
COMMENT ON COLUMN ccc.agent_daily.ring_time IS 'Seconds the agent''s phone rang, over all their legs (NULL counts as 0).';
COMMENT ON COLUMN ccc.agent_daily.talk_time IS 'Seconds talking, over all their legs (NULL counts as 0).';
COMMENT ON COLUMN ccc.agent_daily.hold_time IS 'Seconds with the customer on hold, over all their legs (NULL counts as 0).';
COMMENT ON COLUMN ccc.agent_daily.work_time IS 'Seconds of after-call work, over all their legs (NULL counts as 0).';
COMMENT ON COLUMN ccc.agent_daily.handle_time IS 'talk_time + hold_time + work_time, in seconds.';
COMMENT ON COLUMN ccc.agent_daily.avg_talk_time IS 'talk_time / calls_handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.agent_daily.avg_handle_time IS 'Average handle time: handle_time / calls_handled, in seconds (1 decimal); NULL when no call was handled.';

CREATE VIEW ccc.skill_group_daily AS
SELECT
    x.business_date,
    x.instance_id,
    x.skill_group_name,
    sum(x.offered)::bigint AS offered,
    sum(x.answered)::bigint AS answered,
    sum(x.abandoned)::bigint AS abandoned,
    sum(x.routed)::bigint AS routed,
    sum(x.handled)::bigint AS handled,
    sum(x.queue_time)::bigint AS queue_time_total,
    sum(x.ring_time)::bigint AS ring_time_total,
    sum(x.talk_time)::bigint AS talk_time_total,
    sum(x.hold_time)::bigint AS hold_time_total,
    sum(x.work_time)::bigint AS work_time_total,
    sum(x.talk_time + x.hold_time + x.work_time)::bigint AS handle_time_total,
    round(sum(x.queue_time) / nullif(sum(x.routed), 0), 1) AS avg_queue_time,
    round(sum(x.ring_time) / nullif(sum(x.routed), 0), 1) AS avg_ring_time,
    round(sum(x.talk_time) / nullif(sum(x.handled), 0), 1) AS avg_talk_time,
    round(sum(x.talk_time + x.hold_time + x.work_time) / nullif(sum(x.handled), 0), 1) AS avg_handle_time
FROM (
    -- Outcomes: the calls of each SkillGroupNames list and disposition, counted once for every group the
    -- list names (grouped before the list is split, since few distinct lists exist).
    SELECT
        o.business_date,
        o.instance_id,
        g.skill_group_name,
        o.calls AS offered,
        CASE WHEN d.is_answered THEN o.calls ELSE 0 END AS answered,
        CASE WHEN d.is_abandoned THEN o.calls ELSE 0 END AS abandoned,
        0 AS routed,
        0 AS handled,
        0 AS queue_time,
        0 AS ring_time,
        0 AS talk_time,
        0 AS hold_time,
        0 AS work_time
    FROM (
        SELECT c.business_date, c.instance_id, c.skill_group_names, c.contact_disposition, count(*) AS calls
        FROM ccc.calls AS c
        GROUP BY c.business_date, c.instance_id, c.skill_group_names, c.contact_disposition
    ) AS o
    LEFT JOIN ccc.contact_dispositions AS d ON d.code = o.contact_disposition
    CROSS JOIN LATERAL (
        SELECT DISTINCT btrim(n) AS skill_group_name
        FROM unnest(string_to_array(o.skill_group_names, ',')) AS n
        WHERE btrim(n) <> ''
    ) AS g
    UNION ALL
    -- Agent work: each call once per skill group of its legs, with that group's leg times.
    SELECT
        a.business_date,
        a.instance_id,
        a.skill_group_name,
        0,
        0,
        0,
        1,
        CASE WHEN bool_or(a.talk_time > 0) THEN 1 ELSE 0 END,
        sum(coalesce(a.queue_time, 0)),
        sum(coalesce(a.ring_time, 0)),
        sum(coalesce(a.talk_time, 0)),
        sum(coalesce(a.hold_time, 0)),
        sum(coalesce(a.work_time, 0))
    FROM ccc.agent_legs AS a
    WHERE a.skill_group_name IS NOT NULL
    GROUP BY a.business_date, a.instance_id, a.contact_id, a.skill_group_name
) AS x
GROUP BY x.business_date, x.instance_id, x.skill_group_name;

COMMENT ON VIEW ccc.skill_group_daily IS
    'Calls per skill group (queue) per business day. Outcomes (offered, answered, abandoned) come from the skill groups named in each call''s SkillGroupNames, so a call that passed through two groups counts in both and abandoned calls that never reached an agent are still counted; routed, handled and the times come from the agent legs of that group.';
COMMENT ON COLUMN ccc.skill_group_daily.business_date IS 'Calendar day in the business time zone on which the calls started.';
COMMENT ON COLUMN ccc.skill_group_daily.instance_id IS 'CCC instance.';
COMMENT ON COLUMN ccc.skill_group_daily.skill_group_name IS 'Skill group name, trimmed (an entry of CallDetailRecord.SkillGroupNames or CallDetailAgent.SkillGroupName).';
COMMENT ON COLUMN ccc.skill_group_daily.offered IS 'Calls whose SkillGroupNames list this group.';
COMMENT ON COLUMN ccc.skill_group_daily.answered IS 'Of the offered calls, those whose disposition counts as answered.';
COMMENT ON COLUMN ccc.skill_group_daily.abandoned IS 'Of the offered calls, those whose disposition counts as abandoned.';
COMMENT ON COLUMN ccc.skill_group_daily.routed IS 'Calls with at least one agent leg in this group.';
COMMENT ON COLUMN ccc.skill_group_daily.handled IS 'Calls with a leg in this group on which the agent talked (talk_time > 0).';
COMMENT ON COLUMN ccc.skill_group_daily.queue_time_total IS 'Seconds queued, over the legs in this group (NULL counts as 0).';
COMMENT ON COLUMN ccc.skill_group_daily.ring_time_total IS 'Seconds ringing, over the legs in this group (NULL counts as 0).';
COMMENT ON COLUMN ccc.skill_group_daily.talk_time_total IS 'Seconds talking, over the legs in this group (NULL counts as 0).';
COMMENT ON COLUMN ccc.skill_group_daily.hold_time_total IS 'Seconds on hold, over the legs in this group (NULL counts as 0).';
COMMENT ON COLUMN ccc.skill_group_daily.work_time_total IS 'Seconds of after-call work, over the legs in this group (NULL counts as 0).';
COMMENT ON COLUMN ccc.skill_group_daily.handle_time_total IS 'talk_time_total + hold_time_total + work_time_total, in seconds.';
COMMENT ON COLUMN ccc.skill_group_daily.avg_queue_time IS 'queue_time_total / routed, in seconds (1 decimal); NULL when no call was routed.';
COMMENT ON COLUMN ccc.skill_group_daily.avg_ring_time IS 'ring_time_total / routed, in seconds (1 decimal); NULL when no call was routed.';
COMMENT ON COLUMN ccc.skill_group_daily.avg_talk_time IS 'talk_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
COMMENT ON COLUMN ccc.skill_group_daily.avg_handle_time IS 'Average handle time: handle_time_total / handled, in seconds (1 decimal); NULL when no call was handled.';
