package pgstore_test

import (
	"testing"

	"meldeweg.dev/meldeweg/flow/scheduler/schedulertest"
	"meldeweg.dev/meldeweg/transport/register"
)

func TestServiceState(t *testing.T) {
	schedulertest.ExerciseRegister(t, func(t *testing.T) register.Store {
		return openDSN(t, newDB(t), nil)
	})
}
