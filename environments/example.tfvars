# Generated from lib/tunables.py by `make docs`; do not edit here. Per-environment values: copy to
# environments/<suffix>.tfvars, adjust, and pass it to every plan:
#   terraform -chdir=cdktf.out/stacks/TapStack<suffix> plan -var-file=$PWD/environments/<suffix>.tfvars
# It lives outside cdktf.out, where synth writes. Every value is checked by its variable's validation
# block at plan time (a production stack also refuses an empty alarm_email and log_retention_days < 365).

# Required: ARN of the ACM certificate for the ALB's HTTPS listener (same region as the stack).
certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"

payment_requires_action_timeout_minutes = 30

instance_type              = "t3.medium"
asg_min_size               = 2
asg_max_size               = 6
asg_desired_capacity       = 2
api_db_pool_max            = 10
max_instance_lifetime_days = 14

db_instance_class        = "db.t3.medium"
db_allocated_storage     = 50
db_max_allocated_storage = 200
db_backup_retention_days = 7
backup_retention_days    = 35

log_retention_days      = 365
cpu_alarm_threshold     = 80
alb_5xx_rate_threshold  = 5
api_401_alarm_threshold = 100
refunds_per_hour_alarm  = 20
alarm_email             = "payments-oncall@example.com"
