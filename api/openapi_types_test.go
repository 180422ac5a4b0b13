package api_test

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
)

// openAPIGoTypes are the Go types the document's component schemas name in x-go-type, by that
// name (goTypeName): the API's types, all of package mosaictype. sent: the server sends it, so a
// field without omitempty is always there (required), and a pointer one may be null; a type only
// received is checked for its fields alone.
var openAPIGoTypes = func() map[string]openAPIGoType {
	m := map[string]openAPIGoType{}
	for _, gt := range []openAPIGoType{
		{mosaictype.Error{}, true},
		{mosaictype.CreateWorkspaceRequest{}, false},
		{mosaictype.CreatedWorkspace{}, true},
		{mosaictype.Limits{}, true},
		{mosaictype.RetentionSettings{}, true},
		{mosaictype.Retention{}, true},
		{mosaictype.CreateAPIKeyRequest{}, false},
		{mosaictype.CreatedAPIKey{}, true},
		{mosaictype.CreateOperatorKeyRequest{}, false},
		{mosaictype.CreatedOperatorKey{}, true},
		{mosaictype.Overview{}, true},
		{mosaictype.WorkspaceLoad{}, true},
		{mosaictype.Minutes{}, true},
		{mosaictype.MinuteSeries{}, true},
		{mosaictype.PublishRequest{}, false},
		{mosaictype.PublishResponse{}, true},
		{mosaictype.TaskList{}, true},
		{mosaictype.ReplayRequest{}, false},
		{mosaictype.ReplayResponse{}, true},
		{mosaictype.RetryResponse{}, true},
		{mosaictype.DeadLetterList{}, true},
		{mosaictype.CreateScheduleRequest{}, false},
		{mosaictype.Schedule{}, true},
		{mosaictype.ScheduleList{}, true},
		{mosaictype.AgentList{}, true},
		{mosaictype.PauseRequest{}, false},
		{mosaictype.PoolPauseResponse{}, true},
		{mosaictype.ConsumerReport{}, true},
		{mosaictype.StreamReport{}, true},
		{mosaictype.ConsumerState{}, true},
		{mosaictype.ConsumerTotals{}, true},
		{mosaictype.PutCredentialRequest{}, false},
		{mosaictype.UpdateCredentialRequest{}, false},
		{mosaictype.RotateCredentialRequest{}, false},
		{mosaictype.RotateKeyRequest{}, false},
		{mosaictype.EntryList{}, true},
		{mosaictype.RestoreRequest{}, false},
		{mosaictype.ReindexRequest{}, false},
		{mosaictype.PeerList{}, true},
		{mosaictype.ConnectRequest{}, false},
		{mosaictype.AcceptRequest{}, false},
		{mosaictype.PeerPublishRequest{}, false},
		{mosaictype.Workspace{}, true},
		{mosaictype.OperatorKey{}, true},
		{mosaictype.Task{}, true},
		{mosaictype.TaskEvent{}, true},
		{mosaictype.DeadLetter{}, true},
		{mosaictype.DeadLetterGroup{}, true},
		{mosaictype.UnroutedMessage{}, true},
		{mosaictype.ScheduleRun{}, true},
		{mosaictype.Agent{}, true},
		{mosaictype.AgentEvent{}, true},
		{mosaictype.PoolPause{}, true},
		{mosaictype.Credential{}, true},
		{mosaictype.Access{}, true},
		{mosaictype.Entry{}, true},
		{mosaictype.EntryLink{}, true},
		{mosaictype.EntryRef{}, true},
		{mosaictype.EntryVersion{}, true},
		{mosaictype.Hit{}, true},
		{mosaictype.GraphEdge{}, true},
		{mosaictype.TagCount{}, true},
		{mosaictype.EntryInput{}, false},
		{mosaictype.Diff{}, true},
		{mosaictype.SearchResult{}, true},
		{mosaictype.Graph{}, true},
		{mosaictype.Node{}, true},
		{mosaictype.GraphStats{}, true},
		{mosaictype.Degree{}, true},
		{mosaictype.Identity{}, true},
		{mosaictype.Peer{}, true},
		{mosaictype.Grant{}, true},
		{mosaictype.GrantRequest{}, false},
		{mosaictype.Disconnected{}, true},
		{mosaictype.Published{}, true},
		{mosaictype.RemoteTask{}, true},
		{mosaictype.RemoteEntry{}, true},
		{mosaictype.FederatedSearch{}, true},
		{mosaictype.LabelledHit{}, true},
		{mosaictype.FederatedTasks{}, true},
		{mosaictype.LabelledTask{}, true},
		{mosaictype.PeerResult{}, true},
		{mosaictype.Envelope{}, true},
	} {
		m[goTypeName(reflect.TypeOf(gt.v))] = gt
	}
	return m
}()

// mosaictypePath is the package of the API's types.
var mosaictypePath = reflect.TypeFor[mosaictype.Error]().PkgPath()

type openAPIGoType struct {
	v    any
	sent bool
}

// goTypeName is how x-go-type names a type: its package's name and its own.
func goTypeName(t reflect.Type) string { return path.Base(t.PkgPath()) + "." + t.Name() }

// jsonField is a field of a Go type as encoding/json writes it.
type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists the JSON fields of a struct type, embedded structs' fields in their place (a
// field of the outer struct hides an embedded one of the same name, as encoding/json does).
func jsonFields(t reflect.Type) []jsonField {
	var own, embedded []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			embedded = append(embedded, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		own = append(own, jsonField{name: name, omitempty: strings.Contains(","+opts+",", ",omitempty,"), typ: f.Type})
	}
	for _, f := range embedded {
		if !slices.ContainsFunc(own, func(o jsonField) bool { return o.name == f.name }) {
			own = append(own, f)
		}
	}
	return own
}

// allowsNull says whether a schema takes null: a type list with "null", or an alternative that does.
func allowsNull(ref *openapi3.SchemaRef) bool {
	if ref == nil || ref.Value == nil {
		return false
	}
	s := ref.Value
	if s.Type != nil && s.Type.Includes(openapi3.TypeNull) {
		return true
	}
	return slices.ContainsFunc(s.AnyOf, allowsNull) || slices.ContainsFunc(s.OneOf, allowsNull)
}

func xGoType(s *openapi3.Schema) string {
	if s == nil {
		return ""
	}
	name, _ := s.Extensions["x-go-type"].(string)
	return name
}

// TestOpenAPISchemasAreTheGoTypes: every component schema that names a Go type (x-go-type) has
// that type's JSON fields, no more and no fewer; for a type the server sends, the fields without
// omitempty are required and a pointer among them may be null. A field renamed, added or dropped
// in Go fails here until the document says so too.
func TestOpenAPISchemasAreTheGoTypes(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)
	named := map[string]string{}
	for comp, ref := range doc.Components.Schemas {
		goName := xGoType(ref.Value)
		if goName == "" {
			continue
		}
		if other, dup := named[goName]; dup {
			t.Errorf("schemas %s and %s both name %s", comp, other, goName)
		}
		named[goName] = comp
		gt, ok := openAPIGoTypes[goName]
		if !ok {
			t.Errorf("schema %s names %s, which openAPIGoTypes does not list (x-go-type names the type itself, never an alias of it)", comp, goName)
			continue
		}
		typ := reflect.TypeOf(gt.v)
		s := ref.Value
		var inGo, required []string
		for _, f := range jsonFields(typ) {
			inGo = append(inGo, f.name)
			if !gt.sent || f.omitempty {
				continue
			}
			required = append(required, f.name)
			if f.typ.Kind() == reflect.Pointer && !allowsNull(s.Properties[f.name]) {
				t.Errorf("schema %s: property %s may be null (a %s without omitempty)", comp, f.name, f.typ)
			}
		}
		inDoc := slices.Sorted(func(yield func(string) bool) {
			for p := range s.Properties {
				if !yield(p) {
					return
				}
			}
		})
		slices.Sort(inGo)
		if !slices.Equal(inDoc, inGo) {
			t.Errorf("schema %s has properties %v; %s has JSON fields %v", comp, inDoc, goName, inGo)
		}
		if ap := s.AdditionalProperties.Has; ap == nil || *ap {
			t.Errorf("schema %s: additionalProperties must be false (%s has no other fields)", comp, goName)
		}
		if gt.sent {
			slices.Sort(required)
			docRequired := slices.Sorted(slices.Values(s.Required))
			if !slices.Equal(docRequired, required) {
				t.Errorf("schema %s requires %v; %s always has %v (the fields without omitempty)", comp, docRequired, goName, required)
			}
		}
	}
	for goName, gt := range openAPIGoTypes {
		if pkg := reflect.TypeOf(gt.v).PkgPath(); pkg != mosaictypePath {
			t.Errorf("openAPIGoTypes lists %s, of %s: the document's types are %s's", goName, pkg, mosaictypePath)
		}
		if _, ok := named[goName]; !ok {
			t.Errorf("no schema names %s (x-go-type); drop it from openAPIGoTypes or describe it", goName)
		}
	}
}

// openAPIClientOps are the operations each client.Client method calls.
var openAPIClientOps = map[string][]string{
	"Agents": {"listAgents"}, "AgentEvents": {"getAgent"}, "DrainAgent": {"drainAgent"},
	"PausePool": {"pausePool"}, "ResumePool": {"resumePool"}, "PoolPauses": {"listPoolPauses"},
	"SetWorkspacePaused": {"pauseWorkspace", "resumeWorkspace"},
	"StreamEvents":       {"streamEvents"}, "Ready": {"readyz"},
	"CreateWorkspace": {"createWorkspace"}, "ListWorkspaces": {"listWorkspaces"}, "SetLimits": {"putLimits"},
	"Retention": {"getRetention"}, "SetRetention": {"putRetention"}, "Minutes": {"minutes"},
	"Publish": {"publishTask"}, "GetTask": {"getTask"}, "WaitTask": {"getTask"}, "ListTasks": {"listTasks"},
	"RetryTask": {"retryTask"}, "RunTaskNow": {"runTaskNow"}, "DeleteTask": {"deleteTask"},
	"TaskEvents": {"taskEvents"}, "CancelTask": {"cancelTask"},
	"ListDeadLetters": {"listDeadLetters"}, "DiscardDeadLetter": {"discardDeadLetter"},
	"GetDeadLetter": {"getDeadLetter"}, "ReplayDeadLetter": {"replayDeadLetter"},
	"DeadLetterSummary": {"deadLetterSummary"},
	"PutCredential":     {"putCredential"}, "ListCredentials": {"listCredentials"}, "GetCredential": {"getCredential"},
	"UpdateCredential": {"updateCredential"}, "RotateCredential": {"rotateCredential"}, "RotateKey": {"rotateKey"},
	"DeleteCredential": {"deleteCredential"}, "CredentialAudit": {"credentialAudit"},
	"Consumers":          {"listConsumers"},
	"FederationIdentity": {"federationIdentity"}, "FederationConnect": {"federationConnect"},
	"FederationStatus": {"federationStatus"}, "Peers": {"listPeers"}, "ConnectPeer": {"connectPeer"},
	"AcceptPeer": {"acceptPeer"}, "RejectPeer": {"rejectPeer"}, "GrantPeer": {"grantPeer"},
	"RevokePeer": {"revokePeer"}, "OfferedBy": {"offeredByPeer"}, "DisconnectPeer": {"disconnectPeer"},
	"PublishToPeer": {"publishToPeer"}, "FederatedSearch": {"searchKnowledge"},
	"FederatedTasks": {"listTasks"}, "PeerTask": {"peerTask"}, "PeerEntry": {"peerEntry"},
	"CreateEntry": {"createEntry"}, "UpdateEntry": {"updateEntry"}, "GetEntry": {"getEntry"},
	"DeleteEntry": {"deleteEntry"}, "ListEntries": {"listEntries"}, "EntryLinks": {"entryLinks"},
	"SearchKnowledge": {"searchKnowledge"}, "KnowledgeGraph": {"knowledgeGraph"},
	"EntryVersions": {"entryVersions"}, "EntryDiff": {"entryDiff"}, "RestoreEntry": {"restoreEntry"},
	"Reindex": {"reindexKnowledge"}, "KnowledgeTags": {"knowledgeTags"},
	"CreateOperatorKey": {"createOperatorKey"}, "ListOperatorKeys": {"listOperatorKeys"},
	"RevokeOperatorKey": {"revokeOperatorKey"}, "Overview": {"overview"},
	"CreateSchedule": {"createSchedule"}, "ListSchedules": {"listSchedules"}, "GetSchedule": {"getSchedule"},
	"SetSchedulePaused": {"pauseSchedule", "resumeSchedule"}, "DeleteSchedule": {"deleteSchedule"},
}

// TestOpenAPIClientTypes: the API client's types are the document's. Each client.Client method
// that calls the API is listed with its operations; a document type among its arguments is the
// operation's request body, and what it returns (a document type, or a list of one) is the
// operation's answer or one of the answer's properties.
func TestOpenAPIClientTypes(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)
	ops := map[string]*openapi3.Operation{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops[op.OperationID] = op
		}
	}
	cl := reflect.TypeFor[*client.Client]()
	for i := range cl.NumMethod() {
		m := cl.Method(i)
		if m.Name == "Do" {
			continue // the generic call the others make
		}
		names, ok := openAPIClientOps[m.Name]
		if !ok {
			t.Errorf("Client.%s: not in openAPIClientOps; list the operations it calls", m.Name)
			continue
		}
		for _, name := range names {
			op := ops[name]
			if op == nil {
				t.Errorf("Client.%s: the document has no operation %q", m.Name, name)
				continue
			}
			for _, p := range clientTypeProblems(m.Type, op) {
				t.Errorf("Client.%s (%s): %s", m.Name, name, p)
			}
		}
	}
	for name := range openAPIClientOps {
		if _, ok := cl.MethodByName(name); !ok {
			t.Errorf("openAPIClientOps lists %s, which Client does not have", name)
		}
	}
}

// clientTypeProblems compares a Client method's argument and result types with an operation.
func clientTypeProblems(fn reflect.Type, op *openapi3.Operation) []string {
	var problems []string
	documented := func(t reflect.Type) bool {
		_, ok := openAPIGoTypes[goTypeName(t)]
		return t.Kind() == reflect.Struct && ok
	}
	var body string
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			body = xGoType(mt.Schema.Value)
		}
	}
	for i := 1; i < fn.NumIn(); i++ { // 0 is the receiver
		if in := fn.In(i); documented(in) && goTypeName(in) != body {
			problems = append(problems, fmt.Sprintf("sends a %s, but the operation's body is %q", goTypeName(in), body))
		}
	}
	// The answers' schemas (each alternative of a oneOf) and their properties' types.
	var answers []*openapi3.Schema
	for code, resp := range op.Responses.Map() {
		if !strings.HasPrefix(code, "2") || resp.Value == nil {
			continue
		}
		if mt := resp.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			answers = append(answers, mt.Schema.Value)
			for _, alt := range mt.Schema.Value.OneOf {
				answers = append(answers, alt.Value)
			}
		}
	}
	matches := func(out reflect.Type) bool {
		list := out.Kind() == reflect.Slice
		elem := out
		if list {
			elem = out.Elem()
		}
		want := goTypeName(elem)
		for _, a := range answers {
			if !list && xGoType(a) == want {
				return true
			}
			for _, p := range a.Properties {
				if p.Value == nil {
					continue
				}
				if !list && xGoType(p.Value) == want {
					return true
				}
				if list && p.Value.Items != nil && xGoType(p.Value.Items.Value) == want {
					return true
				}
			}
		}
		return false
	}
	for i := range fn.NumOut() {
		out := fn.Out(i)
		elem := out
		if out.Kind() == reflect.Slice {
			elem = out.Elem()
		}
		if !documented(elem) {
			continue // an error, a map, a text or an id
		}
		if !matches(out) {
			problems = append(problems, fmt.Sprintf("decodes the answer into %s, which is not the operation's answer nor a property of it", out))
		}
	}
	return problems
}
