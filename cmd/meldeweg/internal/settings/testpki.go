package settings

import (
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// testPKIStems names the test PKI's identities per channel (the files
// "meldeweg pki init" writes; see transport/pki).
var testPKIStems = map[baapi.Channel]struct{ client, sign, encrypt string }{
	baapi.ChannelXSozial: {"traeger-client", "traeger-sign", "traeger-encrypt"},
	baapi.ChannelEmaw:    {"emaw-client", "emaw-sign", "emaw-encrypt"},
}

// TestPKIFlags expands a flag that names a test PKI directory (--pki) into
// the endpoint fields it sets for every channel: every certificate and key
// comes from dir. With dir "" the flag was not given and nothing is set.
func TestPKIFlags(name, dir string) []Flag {
	if dir == "" {
		return nil
	}
	var out []Flag
	for _, ch := range baapi.Channels() {
		s := testPKIStems[ch]
		for _, f := range []struct{ key, file string }{
			{"ca_cert", "ca.pem"},
			{"client_cert", s.client + ".pem"}, {"client_key", s.client + ".key"},
			{"sign_cert", s.sign + ".pem"}, {"sign_key", s.sign + ".key"},
			{"encrypt_cert", s.encrypt + ".pem"}, {"encrypt_key", s.encrypt + ".key"},
			{"ba_encrypt_cert", "ba-encrypt.pem"},
		} {
			out = append(out, Flag{Name: name, Field: endpointField(ch, f.key), Value: filepath.Join(dir, f.file)})
		}
	}
	return out
}

// EndpointFlags expands a flag that sets one endpoint field (--url,
// --profile) into that field of every channel: a command that talks to
// both channels uses the value for both.
func EndpointFlags(name, key, value string) []Flag {
	var out []Flag
	for _, ch := range baapi.Channels() {
		out = append(out, Flag{Name: name, Field: endpointField(ch, key), Value: value})
	}
	return out
}
