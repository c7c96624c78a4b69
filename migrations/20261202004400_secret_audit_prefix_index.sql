-- Every audited secret read inserts a secret_audit_logs row, so each index on the table is paid
-- on the hottest write path. secret_audit_logs_user_id_idx (user_id, created_at desc) is a prefix
-- of secret_audit_logs_page_idx (user_id, created_at desc, id desc), which serves every query the
-- smaller one served; data_access_audit's prefix index was dropped the same way in
-- 20261202003100_compliance.sql.
drop index if exists public.secret_audit_logs_user_id_idx;
