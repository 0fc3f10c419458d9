package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/mulletgo/mullet/local/emulator"
)

// ReadAPIKeys reads a keys file: the API keys local serving's $connect
// accepts for an app that requires API keys (mullet dev -api-keys FILE).
// The file is a JSON array of keys, each with a name, the value clients
// send in x-api-key (20 to 128 characters, as in API Gateway), the usage
// plan it belongs to (one the app declares) and, optionally, the ID the
// $connect event's requestContext.identity.apiKeyId shows (default: derived
// from the value, see emulator.APIKeyID):
//
//	[
//	  {"name": "tenant-a", "value": "tenant-a-key-0123456789", "plan": "free"},
//	  {"name": "tenant-b", "value": "tenant-b-key-0123456789", "plan": "paid", "id": "b0b0b0b0b0"}
//	]
//
// Unknown fields are an error; the emulator checks the rest when it
// starts.
func ReadAPIKeys(path string) ([]emulator.APIKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("API keys file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var keys []emulator.APIKey
	if err := dec.Decode(&keys); err != nil {
		return nil, fmt.Errorf("API keys file %s: %w (want a JSON array of {\"name\",\"value\",\"plan\"})", path, err)
	}
	for i, k := range keys {
		if k.Value == "" || k.Plan == "" {
			return nil, fmt.Errorf("API keys file %s: key %d (%q) needs a value and a plan", path, i, k.Name)
		}
	}
	return keys, nil
}
