package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"meldeweg.dev/meldeweg/transport/register"
)

// splitWorker splits a worker name "HOST-PID" at its last "-"; ok is
// false when what follows is not a process ID.
func splitWorker(name string) (host string, pid int, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(name[i+1:])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return name[:i], pid, true
}

// holderGone reports whether holder, the worker that claimed a message,
// is provably gone: it names this worker's host and a process that no
// longer runs here. Anything else (another host, a name without a process
// ID, this very process, a process ID in use) is not proof.
func holderGone(holder, self string) (pid int, gone bool) {
	hh, hpid, ok := splitWorker(holder)
	sh, _, sok := splitWorker(self)
	if !ok || !sok || hh != sh || hpid == os.Getpid() {
		return hpid, false
	}
	return hpid, !processRunning(hpid)
}

// reclaimIfGone takes m (in sending, held by another worker) back at once
// when its holder is provably gone, through the guarded transitions: the
// holder's attempt is marked failed (retry-wait, due now), bound to its
// attempt number, so that a claim takes the message as the next attempt.
// It reports whether it did; a message whose last attempt that was is
// left for its lease (marking the attempt failed would make it dead,
// while the upload may have reached the BA).
func (o *Outbox) reclaimIfGone(ctx context.Context, m register.Message) (bool, error) {
	pid, gone := holderGone(m.ClaimedBy, o.Worker)
	if !gone || m.Attempt >= m.MaxAttempts {
		return false, nil
	}
	reason := fmt.Sprintf("worker %s is gone (process %d no longer runs on this host); attempt %d taken back by %s without waiting for its lease",
		m.ClaimedBy, pid, m.Attempt, o.Worker)
	_, err := o.Store.Transition(ctx, register.MarkRetry(m.ID, m.Attempt, o.now(), reason, o.actor()))
	if errors.Is(err, register.ErrStateConflict) {
		return true, nil // moved on meanwhile: look again
	}
	if err != nil {
		return false, err
	}
	o.logger().Info(fmt.Sprintf("message %s: %s", m.ID, reason), "message", m.ID, "holder", m.ClaimedBy)
	return true, nil
}
