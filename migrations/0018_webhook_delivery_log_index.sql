-- The delivery log over HTTP is read per subscription, newest first, a page at a time
-- (GET /api/v1/webhooks/{id}/deliveries): without this, a page of a quiet subscription scans
-- every other subscription's deliveries.
create index webhook_deliveries_subscription_idx on webhook_deliveries (subscription_id, id);
