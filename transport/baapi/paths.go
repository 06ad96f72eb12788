package baapi

// Route patterns for net/http.ServeMux (Go 1.22 syntax). The wildcards
// are {channel}, {id} and {file}. The path functions below build paths
// these patterns match; a table test holds the two together.
const (
	PatternUpload     = "POST /{channel}/v1/messages/{id}"
	PatternReply      = "GET /{channel}/v1/messages/{id}/reply"
	PatternInbox      = "GET /{channel}/v1/inbox"
	PatternInboxFile  = "GET /{channel}/v1/inbox/{file}"
	PatternRemoveFile = "DELETE /{channel}/v1/inbox/{file}"
)

// UploadPath is where a message is uploaded. It does not validate; call
// id.Validate first (the client does).
func UploadPath(ch Channel, id MessageID) string {
	return "/" + string(ch) + "/v1/messages/" + string(id)
}

// ReplyPath is where the reply to a message is fetched: the XSozial
// feedback file or the eM@w OK/NOK acknowledgement.
func ReplyPath(ch Channel, id MessageID) string { return UploadPath(ch, id) + "/reply" }

// InboxPath lists the files the BA offers on a channel.
func InboxPath(ch Channel) string { return "/" + string(ch) + "/v1/inbox" }

// InboxFilePath downloads (GET) or removes (DELETE) one offered file.
func InboxFilePath(ch Channel, id FileID) string { return InboxPath(ch) + "/" + string(id) }
