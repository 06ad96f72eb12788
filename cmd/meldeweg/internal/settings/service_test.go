package settings

import (
	"strings"
	"testing"
	"time"
)

func TestServiceDefaults(t *testing.T) {
	b := setup(t)
	s, err := b.resolve(t, `{"traeger": "12345"}`)
	if err != nil {
		t.Fatal(err)
	}
	sv := s.Service
	if sv.HealthListen != DefaultHealthListen || sv.GracePeriod != DefaultGracePeriod || sv.Lease != DefaultLease ||
		sv.Monthly.Spec != "workday 3 06:00" || sv.Emaw.Spec != "*/5 * * * *" || sv.Daily.Spec != "0 7 * * *" {
		t.Errorf("defaults: %+v", sv)
	}
	// workday 3 06:00 Europe/Berlin: December 2026 starts on a Tuesday.
	got := sv.Monthly.Schedule.Next(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("monthly default next = %s, want %s", got, want)
	}
}

func TestServiceSection(t *testing.T) {
	b := setup(t)
	b.write(t, "hook.secret", "s3cret\n", 0o600)
	b.write(t, "open.secret", "s3cret\n", 0o644)
	s, err := b.resolve(t, `{
  "service": {
    "health_listen": "127.0.0.1:9999",
    "grace_period": "5s",
    "jobs": {"xsozial_monthly": {"schedule": "workday 2 07:30"}, "emaw": {"disabled": true}},
    "alerts": {
      "12345": {"webhook": {"url": "https://hooks.example/a", "secret_file": "hook.secret"}},
      "default": {"mail": {"addr": "mail.example:587", "from": "mw@example.org", "to": ["ops@example.org"]}}
    }
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	sv := s.Service
	if sv.HealthListen != "127.0.0.1:9999" || sv.GracePeriod != 5*time.Second || sv.Monthly.Spec != "workday 2 07:30" || !sv.Emaw.Disabled {
		t.Errorf("service: %+v", sv)
	}
	if r := sv.Alerts["12345"]; r.WebhookURL == nil || !strings.HasSuffix(r.WebhookSecretFile, "hook.secret") {
		t.Errorf("alerts[12345]: %+v", r)
	}
	if r := sv.Alerts[AlertRouteDefault]; r.SMTPAddr != "mail.example:587" || len(r.SMTPTo) != 1 {
		t.Errorf("alerts[default]: %+v", r)
	}

	for _, tc := range []struct{ name, file, want string }{
		{"bad schedule", `{
  "service": {
    "jobs": {"daily_checks": {"schedule": "at seven"}}
  }
}`, "meldeweg.json:3: service.jobs.daily_checks.schedule: schedule \"at seven\""},
		{"unknown job", `{"service": {"jobs": {
  "backup": {}}}}`, "meldeweg.json:2: service.jobs.backup: unknown field"},
		{"bad duration", `{"service": {
  "grace_period": "soon"}}`, `meldeweg.json:2: service.grace_period: "soon": want a positive duration`},
		{"secret open to others", `{"service": {"alerts": {"12345": {"webhook": {"url": "https://h.example",
  "secret_file": "open.secret"}}}}}`, "meldeweg.json:2: service.alerts.12345.webhook.secret_file: open.secret is mode 0644"},
		{"not a Träger", `{"service": {"alerts": {
  "abc": {"webhook": {"url": "https://h.example"}}}}}`, `meldeweg.json:2: service.alerts.abc: "abc": want a Trägernummer`},
		{"no notifier", `{"service": {"alerts": {
  "12345": {}}}}`, "meldeweg.json:2: service.alerts.12345: want a webhook, mail, or both"},
		{"mail without recipients", `{"service": {"alerts": {"12345": {"mail": {"addr": "m.example:587", "from": "a@b.example",
  "to": []}}}}}`, "meldeweg.json:2: service.alerts.12345.mail.to: want at least one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.resolve(t, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}
