package asyncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/mulletgo/mullet/asyncapi"
	"github.com/mulletgo/mullet/framework"
)

type Said struct {
	From string `json:"from"`
	Text string `json:"text"`
}

type Say struct {
	Text string `json:"text"`
}

func ExampleDocument() {
	app := framework.New[struct{}]("talk", nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m Say) error {
		return c.ReplyJSON(ctx, Said{From: "me", Text: m.Text})
	}, &framework.RouteOptions{TwoWay: true, Replies: Said{}})
	framework.Publishes[Said](app, "room:")

	data, err := asyncapi.Document(app.Manifest(), nil)
	if err != nil {
		panic(err)
	}
	var doc struct {
		AsyncAPI   string
		Operations map[string]struct{ Action string }
	}
	_ = json.Unmarshal(data, &doc)
	var ops []string
	for id, op := range doc.Operations {
		ops = append(ops, op.Action+" "+id)
	}
	sort.Strings(ops)
	fmt.Println(doc.AsyncAPI)
	for _, op := range ops {
		fmt.Println(op)
	}
	// Output:
	// 3.0.0
	// receive receiveSay
	// send broadcastRoom
}
