-- Previews at rest (issue 9 §6). A masked preview still carries names (the PII module does not
-- find personal names in free text), so from now on:
--  * messages.preview holds the masked preview SEALED with the distributor's data key, bound to
--    the message (AAD message_previews:<id>), as "enc:v1:<key version>:<iv>:<ciphertext>"
--    (written by webhook-whatsapp and POST /messages; see shared/messaging sealPreview).
--  * conversations.preview is no longer written: a sealed value is bound to one row and cannot
--    be copied to another. The listing reads the preview of the conversation's latest remaining
--    message at read time (one lateral lookup per listed conversation, on the index below).
--
-- A forward-only SQL migration cannot encrypt (the keys are wrapped by the master key, outside
-- the database). Existing clear previews are therefore CLEARED here, so no dump taken after
-- this migration holds them: a message whose preview is null gets its preview rebuilt at read
-- time from its sealed content (masked again; the same text), so no listing loses one.
-- Rows written in clear by an instance still running the previous code during the rollout are
-- read as legacy clear text until this statement runs again (it is idempotent; a later
-- migration may repeat it).
update public.messages set preview = null
where preview is not null and preview not like 'enc:v1:%';

update public.conversations set preview = null where preview is not null;

comment on column public.messages.preview is
  'Masked preview, sealed: enc:v1:<key version>:<iv>:<ciphertext>, AAD message_previews:<id>; null = rebuild from content';
comment on column public.conversations.preview is
  'Not written since 20261202000500 (previews are sealed per message; the listing reads the latest message''s)';

-- The latest remaining message of a conversation, in the order of last_message_at (Meta's
-- timestamp for inbound messages, the insert time for outbound ones).
create index messages_conversation_latest_idx
  on public.messages (conversation_id, (coalesce(external_timestamp, created_at)) desc, id desc)
  where deleted_at is null;
