package status

import (
	"crypto/x509"
	"time"

	"meldeweg.dev/meldeweg/transport/pki"
)

// CertificateInput is one configured certificate file as the caller
// loaded it: its certificates, or the error that kept it from loading.
type CertificateInput struct {
	Name  string
	Certs []*x509.Certificate
	Err   error
}

// Certificate is one certificate with the days it has left.
type Certificate struct {
	// Name is the configured name (certificates[].name, else the file
	// name).
	Name string `json:"name"`
	// Subject is the certificate's common name; empty for an unreadable
	// file.
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
	// Status is a pki.ExpiryStatus (valid, expiring, expired,
	// not-yet-valid), or "unreadable" with Error set.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// StatusUnreadable is a certificate file that could not be loaded.
const StatusUnreadable = "unreadable"

// AddCertificates classifies every certificate at the report's time with
// the warning period warn (pki.CheckExpiry), and adds an attention line
// for each that is not valid.
func (r *Report) AddCertificates(in []CertificateInput, warn time.Duration) {
	for _, c := range in {
		if c.Err != nil {
			r.Certificates = append(r.Certificates, Certificate{Name: c.Name, Status: StatusUnreadable, Error: c.Err.Error()})
			r.Attention = append(r.Attention, "certificate "+c.Name+" cannot be read")
			continue
		}
		for _, x := range c.Certs {
			e := pki.CheckExpiry(x, r.GeneratedAt, warn)
			r.Certificates = append(r.Certificates, Certificate{Name: c.Name, Subject: x.Subject.CommonName,
				NotAfter: x.NotAfter.UTC(), DaysLeft: e.DaysLeft, Status: string(e.Status)})
			switch e.Status {
			case pki.StatusExpiring:
				r.Attention = append(r.Attention, "certificate "+c.Name+" ("+x.Subject.CommonName+") expires in "+plural(e.DaysLeft, "day"))
			case pki.StatusExpired:
				r.Attention = append(r.Attention, "certificate "+c.Name+" ("+x.Subject.CommonName+") has expired")
			case pki.StatusNotYetValid:
				r.Attention = append(r.Attention, "certificate "+c.Name+" ("+x.Subject.CommonName+") is not valid yet")
			}
		}
	}
}
