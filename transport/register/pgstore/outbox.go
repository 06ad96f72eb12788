package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
)

const messageCols = `id, channel, endpoint, correlation, payload_sha256, payload_size, resend_of, state, attempt, max_attempts, next_attempt_at, claimed_by, claimed_at, last_error, created_at, updated_at`

func scanMessage(row pgx.Row) (register.Message, error) {
	var m register.Message
	var corr string
	var ps []byte
	var next, claimed *time.Time
	if err := row.Scan(&m.ID, &m.Channel, &m.Endpoint, &corr, &ps, &m.Payload.Size, &m.ResendOf, &m.State, &m.Attempt,
		&m.MaxAttempts, &next, &m.ClaimedBy, &claimed, &m.LastError, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return m, err
	}
	var err error
	if m.Correlation, err = register.ParseCorrelationKey(corr); err != nil {
		return m, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Payload.SHA256, _ = register.HashFromBytes(ps)
	m.NextAttemptAt, m.ClaimedAt = utc(next), utc(claimed)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

func (x executor) messages(ctx context.Context, q string, args ...any) ([]register.Message, error) {
	rows, err := x.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessageInsert implements register.Executor.
func (x executor) MessageInsert(ctx context.Context, p *register.MessageInsertParams) error {
	m := p.Message
	tag, err := x.q.Exec(ctx, `INSERT INTO outbox_messages (`+messageCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
		ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Channel, m.Endpoint, m.Correlation.String(), m.Payload.SHA256[:], m.Payload.Size, m.ResendOf, m.State,
		m.Attempt, m.MaxAttempts, nullTime(m.NextAttemptAt), m.ClaimedBy, nullTime(m.ClaimedAt), m.LastError,
		m.CreatedAt, m.UpdatedAt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return register.ErrDuplicateMessage
	}
	return nil
}

// MessageGet implements register.Executor; ForUpdate locks the row.
func (x executor) MessageGet(ctx context.Context, p *register.MessageGetParams) (register.Message, error) {
	q := `SELECT ` + messageCols + ` FROM outbox_messages WHERE id = $1`
	if p.ForUpdate {
		q += ` FOR UPDATE`
	}
	m, err := scanMessage(x.q.QueryRow(ctx, q, p.ID))
	return m, notFound(err)
}

// MessageSetState implements register.Executor.
func (x executor) MessageSetState(ctx context.Context, p *register.MessageSetStateParams) (bool, error) {
	n, old := p.New, p.Old
	tag, err := x.q.Exec(ctx, `UPDATE outbox_messages SET state = $1, attempt = $2, next_attempt_at = $3, claimed_by = $4,
		claimed_at = $5, last_error = $6, updated_at = $7 WHERE id = $8 AND state = $9 AND attempt = $10`,
		n.State, n.Attempt, nullTime(n.NextAttemptAt), n.ClaimedBy, nullTime(n.ClaimedAt), n.LastError, n.UpdatedAt,
		old.ID, old.State, old.Attempt)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// MessageListClaimable implements register.Executor with FOR UPDATE SKIP
// LOCKED: rows another instance is claiming are passed over, not waited
// for.
func (x executor) MessageListClaimable(ctx context.Context, p *register.MessageListClaimableParams) ([]register.Message, error) {
	return x.messages(ctx, `SELECT `+messageCols+` FROM outbox_messages
		WHERE (state = 'queued' OR (state = 'retry-wait' AND next_attempt_at <= $1) OR (state = 'sending' AND claimed_at <= $2))
		  AND ($4 = '' OR channel = $4) AND ($5 = '' OR id = $5)
		ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`, p.Now, p.LeaseBefore, p.Limit, string(p.Channel), string(p.ID))
}

// MessageList implements register.Executor.
func (x executor) MessageList(ctx context.Context, p *register.MessageListParams) ([]register.Message, error) {
	return x.messages(ctx, `SELECT `+messageCols+` FROM outbox_messages
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR correlation = $2)
		  AND ($3 = '' OR created_at > $4 OR (created_at = $4 AND id > $3))
		ORDER BY created_at, id LIMIT $5`,
		string(p.State), p.Correlation.String(), string(p.AfterID), p.AfterCreated, p.Limit)
}
