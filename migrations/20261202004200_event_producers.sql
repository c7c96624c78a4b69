-- Event producers (issue 14): the messages routes, acting as edge_user, write outbox rows in the
-- same statement as the change they describe. edge_user may insert only the event types its
-- caller's permission allows, for the caller's distributors, and still reads nothing (the
-- select policy stays `false`; the inserts carry no RETURNING). authenticated gets nothing.
grant insert on public.event_outbox to edge_user;
create policy event_outbox_insert on public.event_outbox for insert to edge_user
  with check (
    (event_type = 'order.created' and distributor_id in (select private.distributors_with('orders.create')))
    or (event_type = 'order.confirmed' and distributor_id in (select private.distributors_with('orders.confirm')))
    or (event_type = 'customer.updated' and distributor_id in (select private.distributors_with('customers.write'))));
