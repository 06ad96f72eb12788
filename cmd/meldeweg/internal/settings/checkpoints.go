package settings

// Checkpoints configures the register's signed checkpoints (package
// transport/register/checkpoint). Keys are files written by "meldeweg
// register checkpoint keygen".
type Checkpoints struct {
	// SignerKey is the file of the secret signer key (checkpoint_signer_key):
	// mode 0600 or 0400, refused when looser. Keep it apart from the
	// register. "" when this instance does not sign.
	SignerKey string
	// VerifierKey is the file of the public verifier key
	// (checkpoint_verifier_key) that "register verify --checkpoint"
	// checks signatures with.
	VerifierKey string
	// Origin names the register in its checkpoints (checkpoint_origin),
	// e.g. "meldeweg.example/jobcenter-12345"; it must be the name the
	// keys were made for.
	Origin string
	// Dir is the directory checkpoints are written to (checkpoint_dir):
	// best on another disk or host, where a witness reads them. Created
	// 0700 when missing.
	Dir string
}
