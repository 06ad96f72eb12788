package sqlitestore

import (
	"context"
	"fmt"

	"meldeweg.dev/meldeweg/transport/register"
)

const messageCols = `id, channel, endpoint, correlation, payload_sha256, payload_size, resend_of, state, attempt, max_attempts, next_attempt_us, claimed_by, claimed_us, last_error, created_us, updated_us`

const (
	qInsertMessage = `INSERT INTO outbox_messages (` + messageCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`
	qMessage       = `SELECT ` + messageCols + ` FROM outbox_messages WHERE id = ?`
	qUpdateMessage = `UPDATE outbox_messages SET state = ?, attempt = ?, next_attempt_us = ?, claimed_by = ?, claimed_us = ?, last_error = ?, updated_us = ? WHERE id = ? AND state = ? AND attempt = ?`
	qClaimable     = `SELECT ` + messageCols + ` FROM outbox_messages
		WHERE (state = 'queued' OR (state = 'retry-wait' AND next_attempt_us <= ?) OR (state = 'sending' AND claimed_us <= ?))
		  AND (? = '' OR channel = ?)
		ORDER BY created_us, id LIMIT ?`
	qMessages = `SELECT ` + messageCols + ` FROM outbox_messages
		WHERE (? = '' OR state = ?) AND (? = '' OR correlation = ?) AND (? = '' OR created_us > ? OR (created_us = ? AND id > ?))
		ORDER BY created_us, id LIMIT ?`
)

func scanMessage(sc scanner) (register.Message, error) {
	var m register.Message
	var corr string
	var ps []byte
	var next, claimed, created, updated int64
	if err := sc.Scan(&m.ID, &m.Channel, &m.Endpoint, &corr, &ps, &m.Payload.Size, &m.ResendOf, &m.State, &m.Attempt,
		&m.MaxAttempts, &next, &m.ClaimedBy, &claimed, &m.LastError, &created, &updated); err != nil {
		return m, err
	}
	var err error
	if m.Correlation, err = register.ParseCorrelationKey(corr); err != nil {
		return m, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Payload.SHA256, _ = register.HashFromBytes(ps)
	m.NextAttemptAt, m.ClaimedAt = fromMicro(next), fromMicro(claimed)
	m.CreatedAt, m.UpdatedAt = fromMicro(created), fromMicro(updated)
	return m, nil
}

func (x executor) messages(ctx context.Context, q string, args ...any) ([]register.Message, error) {
	rows, err := x.c.query(ctx, q, args...)
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
	res, err := x.c.exec(ctx, qInsertMessage,
		m.ID, m.Channel, m.Endpoint, m.Correlation.String(), m.Payload.SHA256[:], m.Payload.Size, m.ResendOf, m.State,
		m.Attempt, m.MaxAttempts, micro(m.NextAttemptAt), m.ClaimedBy, micro(m.ClaimedAt), m.LastError,
		micro(m.CreatedAt), micro(m.UpdatedAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = register.ErrDuplicateMessage
		}
		return err
	}
	return nil
}

// MessageGet implements register.Executor. The write transaction holds
// the database's one write lock, so ForUpdate needs nothing more.
func (x executor) MessageGet(ctx context.Context, p *register.MessageGetParams) (register.Message, error) {
	m, err := scanMessage(x.c.queryRow(ctx, qMessage, p.ID))
	return m, notFound(err)
}

// MessageSetState implements register.Executor.
func (x executor) MessageSetState(ctx context.Context, p *register.MessageSetStateParams) (bool, error) {
	n, old := p.New, p.Old
	res, err := x.c.exec(ctx, qUpdateMessage,
		n.State, n.Attempt, micro(n.NextAttemptAt), n.ClaimedBy, micro(n.ClaimedAt), n.LastError, micro(n.UpdatedAt),
		old.ID, old.State, old.Attempt)
	if err != nil {
		return false, err
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// MessageListClaimable implements register.Executor. SQLite has no SKIP
// LOCKED: the write transaction makes claims exclusive and concurrent
// claimers queue. A claim by ID reads that row by primary key.
func (x executor) MessageListClaimable(ctx context.Context, p *register.MessageListClaimableParams) ([]register.Message, error) {
	if p.ID != "" {
		return x.messages(ctx, qMessage, p.ID)
	}
	leaseBefore := int64(-1) // no row has a negative claim time
	if !p.LeaseBefore.IsZero() {
		leaseBefore = p.LeaseBefore.UnixMicro()
	}
	return x.messages(ctx, qClaimable, p.Now.UnixMicro(), leaseBefore, string(p.Channel), string(p.Channel), p.Limit)
}

// MessageList implements register.Executor.
func (x executor) MessageList(ctx context.Context, p *register.MessageListParams) ([]register.Message, error) {
	after := micro(p.AfterCreated)
	return x.messages(ctx, qMessages, p.State, p.State, p.Correlation.String(), p.Correlation.String(),
		p.AfterID, after, after, p.AfterID, p.Limit)
}
