package main

import (
	"context"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework"
)

func main() {
	app := framework.New[struct{}]("devlambda", nil)
	framework.Handle(app, "version", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, "v1")
	}, &framework.RouteOptions{TwoWay: true})
	
	mullet.Main(app)
}
