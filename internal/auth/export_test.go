package auth

import "testing"

// UseCheapHashing makes HashPassword use tiny argon2id parameters until t
// ends. Tests using it must not run in parallel with ones that do not.
func UseCheapHashing(t testing.TB) {
	saved := argonCost
	argonCost.memory, argonCost.time, argonCost.threads = 64, 1, 1
	t.Cleanup(func() { argonCost = saved })
}
