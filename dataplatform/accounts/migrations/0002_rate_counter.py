"""RateCounter: rate-limit counters in the auth database when no shared cache is configured."""

from django.db import migrations, models


class Migration(migrations.Migration):


    dependencies = [
        ('dataplatform', '0001_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='RateCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200, unique=True)),
                ('count', models.PositiveIntegerField(default=0)),
                ('expires_at', models.DateTimeField(db_index=True)),
            ],
            options={
                'verbose_name': 'rate-limit counter',
            },
        ),
    ]
