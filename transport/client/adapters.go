package client

import (
	"context"
	"crypto/sha256"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// ContentTypeSealed is the content type of every upload: a CMS message
// (signed, then encrypted; DER/BER) holding an XSozial dataset or an eM@w
// ZIP package.
const ContentTypeSealed = "application/pkcs7-mime"

// XSozialPortal is the BA portal for the monthly XSozial-BA-SGB II
// delivery: upload the sealed file, then fetch the feedback
// (Rückmeldung) for it.
type XSozialPortal struct{ C *Client }

// Upload delivers a sealed XSozial file as message id. See Client.Upload.
func (p XSozialPortal) Upload(ctx context.Context, id baapi.MessageID, sealed *Body) (baapi.Receipt, error) {
	return p.C.Upload(ctx, baapi.ChannelXSozial, id, ContentTypeSealed, sealed)
}

// Feedback fetches the feedback file for delivery id; the error wraps
// ErrNotReady while the BA is still checking the delivery.
func (p XSozialPortal) Feedback(ctx context.Context, id baapi.MessageID) ([]byte, Fetched, error) {
	return p.C.Reply(ctx, baapi.ChannelXSozial, id)
}

// EmawMailbox is the eM@w mailbox of a measure provider: upload ZIP
// packages, list and download what the BA made available (Anmeldungen and
// other inbound messages, acknowledgements), fetch the OK/NOK
// acknowledgement of an upload, and remove collected files.
type EmawMailbox struct{ C *Client }

// Upload delivers a sealed eM@w ZIP package as message id. See
// Client.Upload.
func (m EmawMailbox) Upload(ctx context.Context, id baapi.MessageID, sealed *Body) (baapi.Receipt, error) {
	return m.C.Upload(ctx, baapi.ChannelEmaw, id, ContentTypeSealed, sealed)
}

// Ack fetches the OK/NOK acknowledgement for upload id; the error wraps
// ErrNotReady while there is none yet.
func (m EmawMailbox) Ack(ctx context.Context, id baapi.MessageID) ([]byte, Fetched, error) {
	return m.C.Reply(ctx, baapi.ChannelEmaw, id)
}

// List returns the files offered for download.
func (m EmawMailbox) List(ctx context.Context) (baapi.Listing, error) {
	return m.C.List(ctx, baapi.ChannelEmaw)
}

// Download stores offered file f at dst, checked against the listing's
// SHA-256. See Client.Download.
func (m EmawMailbox) Download(ctx context.Context, f baapi.FileInfo, dst string) (Fetched, error) {
	var want [sha256.Size]byte
	if b, err := decodeHex32(f.SHA256); err == nil {
		want = b
	}
	return m.C.Download(ctx, baapi.ChannelEmaw, f.ID, want, dst)
}

// Remove marks offered file id as collected.
func (m EmawMailbox) Remove(ctx context.Context, id baapi.FileID) error {
	return m.C.Remove(ctx, baapi.ChannelEmaw, id)
}
