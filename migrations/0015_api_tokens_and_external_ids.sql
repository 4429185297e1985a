-- The integration API: bearer tokens (only their SHA-256 is kept) and the CRM's own id of an
-- account, so a nightly sync can upsert by it.

create table api_tokens (
    id           bigserial primary key,
    name         text not null check (length(name) between 1 and 100),
    -- SHA-256 of the whole token as presented; the token itself is shown once and never stored.
    hash         bytea not null unique check (length(hash) = 32),
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- A name is unique among the tokens that still work, so a revoked 'crm' can be replaced.
create unique index api_tokens_active_name on api_tokens (name) where revoked_at is null;

alter table accounts add column external_id text unique
    check (external_id is null or length(external_id) between 1 and 200);
