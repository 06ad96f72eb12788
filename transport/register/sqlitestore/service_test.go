package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/flow/scheduler/schedulertest"
	"meldeweg.dev/meldeweg/transport/register"
)

func TestServiceState(t *testing.T) {
	schedulertest.ExerciseRegister(t, func(t *testing.T) register.Store {
		return openAt(t, filepath.Join(t.TempDir(), "register.db"), nil)
	})
}
