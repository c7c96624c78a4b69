-- Least privilege on the compliance tables for the functions' role. The schema's default
-- privileges (20261202000100) give edge_user SELECT, INSERT, UPDATE and DELETE on every new
-- table; RLS without a policy already let none of these writes through (0 rows, or 42501 on
-- INSERT), but a write the functions never make should fail loudly, not silently match
-- nothing. The service writes requests, runs and incidents; OWNERs change retention policies
-- (insert/update, never delete); users create their own tickets and never change them.
-- tests/db/compliance_rls.sql checks each role against each table and operation.
revoke insert, update, delete, truncate on public.privacy_requests, public.retention_runs, public.security_incidents from edge_user;
revoke delete, truncate on public.retention_policies from edge_user;
revoke update, delete, truncate on public.support_tickets from edge_user;
