"""Django-free core of the acquisition pipeline: models, state machines, DynamoDB repository,
services, dispatchers and the Lambda handler. Never imports Django."""
