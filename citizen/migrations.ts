import type { Migration } from '../master/migrations.js';

/**
 * The citizen services' own tables (bookkeeping: citizen_migrations). Append
 * only, like master/migrations.ts: never edit a released entry, add one.
 * Identities appear only as person_id (persons holds the encrypted identity)
 * and as keyed hashes / AES-GCM ciphertext made with master/pii-crypto.ts.
 */
const V1_APPEALS = `
-- 我要申诉: one work order per appeal. region = persons.region at filing
-- time: the region that owns the person handles it (city officers see their
-- prefix only). Times are the service clock's (tests pin it), not now().
CREATE TABLE cit_appeals (
  id           bigserial PRIMARY KEY,
  person_id    bigint NOT NULL REFERENCES persons (id),
  region       text NULL CHECK (region ~ '^[0-9]{6}$'),
  type         text NOT NULL CHECK (type IN ('code_wrong', 'travel_wrong', 'test_result', 'info_wrong', 'other')),
  text         text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
  -- the photo lives encrypted in <dataDir>/citizen/photos/<photo_file>
  photo_file   text NULL CHECK (photo_file ~ '^[0-9a-f]{32}$'),
  photo_type   text NULL CHECK (photo_type IN ('image/jpeg', 'image/png')),
  photo_bytes  integer NULL CHECK (photo_bytes BETWEEN 1 AND 2097152),
  -- call-back number: keyed hash (find) + AES-GCM (read), never in clear
  contact_hash bytea NULL,
  contact_enc  bytea NULL,
  channel      text NOT NULL CHECK (channel IN ('page', 'hotline')),
  filed_by     text NOT NULL,
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'replied', 'closed')),
  assignee     text NULL,
  reply        text NULL CHECK (length(reply) <= 2000),
  resolution   text NULL CHECK (resolution IN ('corrected', 'explained', 'rejected', 'duplicate')),
  created_at   timestamptz NOT NULL,
  accepted_at  timestamptz NULL,
  replied_at   timestamptz NULL,
  closed_at    timestamptz NULL,
  due_at       timestamptz NOT NULL,
  overdue      boolean NOT NULL DEFAULT false
);
CREATE INDEX cit_appeals_person_ix ON cit_appeals (person_id, created_at);
CREATE INDEX cit_appeals_region_ix ON cit_appeals (region, status);
CREATE INDEX cit_appeals_due_ix ON cit_appeals (due_at) WHERE status <> 'closed' AND NOT overdue;

-- What happened to an order, in order (the console's timeline).
CREATE TABLE cit_appeal_events (
  id        bigserial PRIMARY KEY,
  appeal_id bigint NOT NULL REFERENCES cit_appeals (id),
  at        timestamptz NOT NULL,
  actor     text NOT NULL,
  action    text NOT NULL CHECK (action IN ('filed', 'accepted', 'replied', 'closed', 'overdue')),
  note      text NULL
);
CREATE INDEX cit_appeal_events_appeal_ix ON cit_appeal_events (appeal_id, id);
`;

const V2_KB = `
-- 咨询知识库: articles by category; every edit is a new version, which goes
-- draft → review → published (by someone other than its author); the
-- previously published version is then superseded. Citizens and seats read
-- only the published version (cit_kb_articles.published_version).
CREATE TABLE cit_kb_articles (
  id                bigserial PRIMARY KEY,
  category          text NOT NULL CHECK (category IN ('policy', 'code_rules', 'testing', 'travel', 'faq')),
  published_version integer NULL,
  title_initials    text NOT NULL DEFAULT '',
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE TABLE cit_kb_versions (
  article_id   bigint NOT NULL REFERENCES cit_kb_articles (id),
  version      integer NOT NULL CHECK (version > 0),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
  status       text NOT NULL CHECK (status IN ('draft', 'review', 'published', 'superseded', 'withdrawn')),
  author       text NOT NULL,
  created_at   timestamptz NOT NULL,
  reviewed_by  text NULL,
  published_at timestamptz NULL,
  PRIMARY KEY (article_id, version)
);
-- The search index of the published versions: one row per (article, term),
-- term = a Han bigram or a Latin/digit word (citizen/kb-text.ts); weight 3
-- for a title term, 1 for the body only.
CREATE TABLE cit_kb_terms (
  article_id bigint NOT NULL REFERENCES cit_kb_articles (id),
  term       text NOT NULL,
  weight     smallint NOT NULL,
  PRIMARY KEY (article_id, term)
);
CREATE INDEX cit_kb_terms_term_ix ON cit_kb_terms (term);
`;

const V3_TRAVEL = `
-- Phone verification (短信验证码) for the travel card: only a keyed hash of
-- the code is kept (a plain hash of 6 digits is reversed in a millisecond),
-- with its expiry, wrong attempts and use.
CREATE TABLE cit_sms_codes (
  id         bigserial PRIMARY KEY,
  person_id  bigint NOT NULL REFERENCES persons (id),
  phone_hash bytea NOT NULL,
  code_hash  bytea NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts   integer NOT NULL DEFAULT 0,
  used_at    timestamptz NULL
);
CREATE INDEX cit_sms_codes_phone_ix ON cit_sms_codes (phone_hash, created_at);
CREATE INDEX cit_sms_codes_person_ix ON cit_sms_codes (person_id, created_at);

-- Messages waiting for the SMS gateway (the alerting capability's sender
-- when it exists). Number and text are sealed (AES-GCM, citizen/seal.ts):
-- the text holds the code.
CREATE TABLE cit_sms_outbox (
  id         bigserial PRIMARY KEY,
  person_id  bigint NOT NULL REFERENCES persons (id),
  purpose    text NOT NULL CHECK (purpose IN ('travel_card')),
  phone_enc  bytea NOT NULL,
  text_enc   bytea NOT NULL,
  created_at timestamptz NOT NULL,
  sent_at    timestamptz NULL
);
CREATE INDEX cit_sms_outbox_unsent_ix ON cit_sms_outbox (id) WHERE sent_at IS NULL;
`;

const V4_SAMPLING = `
-- 入川即检 登记: a traveller's registration for nucleic-acid sampling. The
-- sampling QR is signed (citizen/sampling-qr.ts) and names this row; the
-- site's scan fills sampled_at. The result arrives as a nucleic_acid fact
-- (imports), which the rules use to clear the entry notice.
CREATE TABLE cit_sampling (
  id            bigserial PRIMARY KEY,
  person_id     bigint NOT NULL REFERENCES persons (id),
  registered_at timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  kid           integer NOT NULL,
  sampled_at    timestamptz NULL,
  site          text NULL CHECK (length(site) BETWEEN 1 AND 100),
  sampled_by    text NULL
);
CREATE INDEX cit_sampling_person_ix ON cit_sampling (person_id, id);
CREATE INDEX cit_sampling_sampled_ix ON cit_sampling (sampled_at);
`;

const V5_SAMPLING_KEYS = `
-- Public halves of every master's sampling key (each admin-api process
-- generates its own into its data dir): any master verifies a QR another
-- one signed, and /citizen/v1/sampling/keys publishes them all.
CREATE TABLE cit_sampling_keys (
  kid        integer PRIMARY KEY CHECK (kid BETWEEN 1 AND 65535),
  alg        text NOT NULL CHECK (alg IN ('Ed25519', 'SM2')),
  public_key text NOT NULL,
  not_before bigint NOT NULL,
  not_after  bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;

const V6_APPEAL_SMS = `
-- The citizen gets an SMS when an official replies to an appeal that left a
-- call-back number (same sealed outbox as the travel-card codes).
ALTER TABLE cit_sms_outbox DROP CONSTRAINT cit_sms_outbox_purpose_check;
ALTER TABLE cit_sms_outbox ADD CONSTRAINT cit_sms_outbox_purpose_check CHECK (purpose IN ('travel_card', 'appeal_reply'));
`;

const V7_SMS_SENDER = `
-- The citizen SMS sender (sms-sender.ts): a message the gateway refuses for
-- good (HTTP 400) or a verification code that expired while the gateway was
-- down is closed as failed instead of being retried forever.
ALTER TABLE cit_sms_outbox ADD COLUMN failed_at timestamptz NULL;
ALTER TABLE cit_sms_outbox ADD COLUMN last_error text NULL CHECK (length(last_error) <= 200);
DROP INDEX cit_sms_outbox_unsent_ix;
CREATE INDEX cit_sms_outbox_unsent_ix ON cit_sms_outbox (id) WHERE sent_at IS NULL AND failed_at IS NULL;
`;

export const CITIZEN_MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'appeals', sql: V1_APPEALS },
  { version: 2, name: 'knowledge-base', sql: V2_KB },
  { version: 3, name: 'travel-card', sql: V3_TRAVEL },
  { version: 4, name: 'sampling', sql: V4_SAMPLING },
  { version: 5, name: 'sampling-keys', sql: V5_SAMPLING_KEYS },
  { version: 6, name: 'appeal-reply-sms', sql: V6_APPEAL_SMS },
  { version: 7, name: 'sms-sender', sql: V7_SMS_SENDER },
]);
