package framework

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// SchedulerAPI is the part of the EventBridge Scheduler client
// (*scheduler.Client) that EventBridgeScheduler uses.
type SchedulerAPI interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
}

// EventBridgeSchedulerOptions configures an EventBridgeScheduler. The
// caller's struct is never modified.
type EventBridgeSchedulerOptions struct {
	// Group is the schedule group. Default "default".
	Group string
	// RoleARN is the role EventBridge Scheduler assumes to invoke the
	// function (lambda:InvokeFunction on it). Required.
	RoleARN string
	// TargetARN is the function the timers invoke. Empty: the function
	// ARN of the invocation that schedules (from its Lambda context).
	TargetARN string
}

// EventBridgeScheduler is a Scheduler that creates one EventBridge
// Scheduler one-time schedule per timer: an at() expression in UTC, no
// flexible window, deleted after it runs, retried up to 3 times within 5
// minutes, with the timer event as the Lambda target's input.
type EventBridgeScheduler struct {
	api  SchedulerAPI
	opts EventBridgeSchedulerOptions
}

var _ Scheduler = (*EventBridgeScheduler)(nil)

// NewEventBridgeScheduler returns a Scheduler over api. It returns an error
// if opts is nil or its RoleARN is empty.
func NewEventBridgeScheduler(api SchedulerAPI, opts *EventBridgeSchedulerOptions) (*EventBridgeScheduler, error) {
	if opts == nil || opts.RoleARN == "" {
		return nil, errors.New("framework: EventBridgeSchedulerOptions.RoleARN is empty: EventBridge Scheduler needs a role it can assume to invoke the function")
	}
	o := *opts
	if o.Group == "" {
		o.Group = "default"
	}
	return &EventBridgeScheduler{api: api, opts: o}, nil
}

// Schedule implements Scheduler. A schedule of the same name that already
// exists (ConflictException) counts as scheduled.
func (s *EventBridgeScheduler) Schedule(ctx context.Context, name string, at time.Time, event []byte) error {
	target := s.opts.TargetARN
	if target == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			target = lc.InvokedFunctionArn
		}
	}
	if target == "" {
		return errors.New("framework: EventBridgeScheduler: no target function ARN (set EventBridgeSchedulerOptions.TargetARN outside Lambda)")
	}
	_, err := s.api.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name:                       aws.String(name),
		GroupName:                  aws.String(s.opts.Group),
		ScheduleExpression:         aws.String("at(" + at.UTC().Format("2006-01-02T15:04:05") + ")"),
		ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:         &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		ActionAfterCompletion:      types.ActionAfterCompletionDelete,
		Target: &types.Target{
			Arn:     aws.String(target),
			RoleArn: aws.String(s.opts.RoleARN),
			Input:   aws.String(string(event)),
			// A timeout is worth little once it is minutes late.
			RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(3), MaximumEventAgeInSeconds: aws.Int32(300)},
		},
	})
	var conflict *types.ConflictException
	if errors.As(err, &conflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("framework: schedule %s: %w", name, err)
	}
	return nil
}
