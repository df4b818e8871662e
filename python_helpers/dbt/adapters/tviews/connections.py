"""The profile is a postgres profile with `type: tviews`."""

from dataclasses import dataclass

from dbt.adapters.postgres.connections import PostgresConnectionManager, PostgresCredentials


@dataclass
class TviewsCredentials(PostgresCredentials):
    @property
    def type(self) -> str:
        return "tviews"


class TviewsConnectionManager(PostgresConnectionManager):
    TYPE = "tviews"
