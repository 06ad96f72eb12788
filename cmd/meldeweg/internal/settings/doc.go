// Package settings resolves the configuration of the meldeweg command:
// one resolver merges the configuration file, the environment and the
// command's flags into typed, validated Settings when the configuration
// loads, so that no command parses a profile, a URL or a path on its own.
//
// # Precedence
//
// One rule for every field:
//
//	flags > environment > file > defaults
//
// A flag that is not given, and an environment variable that is unset or
// empty, leave the field to the next source. The lists of the file
// (schema_dirs, bundles, certificates) have no environment variable;
// --schema-dir adds to schema_dirs instead of replacing it.
//
// # Sources
//
//   - The file: --config FILE, else $MELDEWEG_CONFIG. JSON; every field is
//     optional; an unknown field, a value of the wrong kind and a key that
//     is not a channel under "endpoints" are errors with the file's line.
//     Relative paths in the file are relative to the file's directory.
//   - The environment: every single-valued field has a variable, MELDEWEG_
//     and the field's path in upper case with "_" for ".": work_dir is
//     MELDEWEG_WORK_DIR, endpoints.emaw.cms_profile is
//     MELDEWEG_ENDPOINTS_EMAW_CMS_PROFILE (see Fields and EnvVar). Relative
//     paths are relative to the working directory.
//   - Flags: each command binds its own flags and hands those that set a
//     field to Resolve as Flag values (--url, --profile and --pki set the
//     fields of every channel's endpoint). Relative paths are relative to
//     the working directory.
//
// # Tenants
//
// With "tenants" in the file, each tenant (a Träger or a provider site)
// is an object holding the tenant's own fields (register, payloads,
// traeger, massnahmen, xsozial_source, work_dir, endpoints, certificates,
// kek_file, kek_env, kek_command); a field it leaves out comes from the
// top level. A run is one tenant's: Input.Tenant (--tenant,
// $MELDEWEG_TENANT), else the only one. Every tenant is resolved, and two
// that share a register, a payload key directory, a key-encryption key
// file or a certificate or key of their own are refused with an *Error
// naming both tenants and the fields. Without "tenants" the configuration
// is the one tenant register.DefaultTenant, as before tenants.
//
// # Checks
//
// Resolve parses every value into its type (cms.Profile, *url.URL,
// numbers), fills the defaults (Settings.WithDefaults), validates the
// values (a pure function: profiles, https URLs, a five-digit
// Trägernummer, a positive warning period, one password source), and then
// checks the paths: certificates, keys, password files and schema
// directories must exist; keys, password files, PKCS#12 files and PEM
// files holding a key must be open to their owner only (0600); the source
// directory, the work directory and the payload key directory must be
// open to their owner only (0700) — the last two may not exist yet.
// Every problem is an *Error naming the source (file and line, $VARIABLE,
// --flag or default) and the field, for example
//
//	meldeweg.json:9: endpoints.emaw.cms_profile: "bsi2" is not a CMS profile (want compat or bsi)
//
// # Deeper checks
//
// Settings.Check (what "meldeweg config check" runs) judges what a
// command would find only when it uses a value: every key and
// certificate loads with its password and each key belongs to its
// certificate; certificates are neither expired nor not yet valid (a
// warning within CertWarnDays); each configured channel has every field
// it needs to deliver; a bundle is in force for each standard in use this
// month and the next two (Months); the register, the payload keys, the
// work directory and the source directory are distinct places; a file
// holding the register's password is open to its owner only. With
// CheckOptions.Online it makes a mutual TLS handshake with each endpoint
// (transport/client.Handshake). Each finding is a Problem naming its
// field, as an *Error does.
//
// # Limits
//
//   - The file is JSON only; YAML is not read.
//   - The line of a semantic error is the line of the field's key; a value
//     from the environment or a flag has no line.
//   - Whether an endpoint is complete (URL, CA, identities) is judged by
//     the command that uses it (and by Check), not at load: a
//     configuration may set up one channel only.
//   - Check compares places by their cleaned absolute paths: two names
//     of one directory through a symbolic link are not found.
//   - The file system is checked once, at load; a file removed or made
//     readable to others later is found when it is used, or at the next
//     load. Ownership is not checked, only permission bits.
//   - The other tenants of a run are resolved only as far as the checks
//     between tenants need: their own problems (a missing certificate)
//     show when they run.
//   - An environment variable whose name looks like a field but is
//     misspelt (MELDEWEG_WORKDIR) is ignored, not refused: MELDEWEG_ also
//     prefixes variables of the tests and benchmarks.
package settings
